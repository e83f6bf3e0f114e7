//! Language of a prompt, from its letters alone: no allocation, no failure, no files at run time.
//!
//! The script decides most languages outright (Greek, Hebrew, Thai, Devanagari, Hangul, kana).
//! Within a script shared by several languages the evidence is scored:
//! - Latin and Cyrillic: the embedded character n-gram model (`language_model.zig`, trained by
//!   scripts/train_language_model.py). Its unigram costs are the letter filters: a letter that a
//!   language never writes (ő, ř, ș, ğ, ø, ł, ã, ñ, ß, ơ; ї, є, ґ, ы, э) costs that language the
//!   most a feature can cost, so one such letter outweighs several common words.
//! - Arabic script: the training text has no Persian, so letters that only Persian (پ چ ژ گ ک ی)
//!   or only Arabic (ة ى ي ك) writes, and a few function words, decide (`scoreArabic`).
//! - Han without kana: `scoreHan` weighs characters whose form differs between simplified
//!   Chinese, traditional Chinese and Japanese, so kanji-only Japanese ("経済産業省発表",
//!   "日本国憲法第九条") is not taken for Chinese.
//!
//! Work is bounded: script counts cover the whole text (16 ASCII bytes at a time), while scoring
//! reads at most the first `window_bytes_max` bytes, and the n-gram model stops at the end of a
//! word once its leader is decisively ahead (`language_model.decisive_margin_nats`).
const std = @import("std");
const assert = std.debug.assert;
const script = @import("script.zig");
const Script = script.Script;
pub const model = @import("language_model.zig");
const language_model = model;

/// Append-only: the numeric values are part of the C ABI.
pub const Language = enum(u8) {
    und = 0,
    en,
    zh,
    ja,
    ko,
    ru,
    uk,
    bg,
    de,
    fr,
    es,
    pt,
    it,
    nl,
    pl,
    cs,
    sv,
    da,
    fi,
    hu,
    ro,
    tr,
    ar,
    fa,
    he,
    hi,
    vi,
    th,
    el,
};

const language_count = @typeInfo(Language).@"enum".field_names.len;

comptime {
    assert(language_count == 29);
    assert(language_count <= 32); // Language sets are u32 bit masks.
}

/// The ISO 639-1 code, or "und" (undetermined, ISO 639-2).
pub fn code(language: Language) []const u8 {
    return @tagName(language);
}

pub fn fromCode(text: []const u8) ?Language {
    return std.meta.stringToEnum(Language, text);
}

pub fn isCjk(language: Language) bool {
    return switch (language) {
        .zh, .ja, .ko => true,
        else => false,
    };
}

pub const Detection = struct {
    language: Language,
    /// In [0, 1]; 0 exactly when `language` is `und`.
    confidence: f32,
    /// Each script's share of the letters: sums to 1, or all zero when there are no letters.
    script_shares: [script.script_count]f32,
    letters: u32,
    bytes_invalid: u32,
};

/// The prefix that letter and word scoring reads. 64 KiB is some ten thousand words: far more
/// evidence than needed, and the scoring of a 10 MB prompt costs no more than that of 64 KiB.
pub const window_bytes_max = 64 * 1024;

/// Han, kana and Hangul weigh this many letters when choosing the dominant script: one CJK
/// character carries about as much text as a short alphabetic word does, so "用中文解释
/// Kubernetes" is a Chinese prompt, while "Translate 你好 into English" stays English.
const cjk_letter_weight = 2;

pub fn detect(text: []const u8) Detection {
    const counts = script.count(text);
    var detection: Detection = .{
        .language = .und,
        .confidence = 0,
        .script_shares = @splat(0),
        .letters = counts.letters_total,
        .bytes_invalid = counts.bytes_invalid,
    };
    if (counts.letters_total == 0) return detection;

    const letters_total: f32 = @floatFromInt(counts.letters_total);
    for (&detection.script_shares, counts.letters) |*share, letters| {
        share.* = @as(f32, @floatFromInt(letters)) / letters_total;
    }

    const dominant = dominantGroup(counts);
    const window = text[0..@min(text.len, window_bytes_max)];
    const guess: Guess = switch (dominant.group) {
        .latin => decideModel(.latin, window),
        .cyrillic => decideModel(.cyrillic, window),
        .arabic => decideArabic(scoreArabic(window)),
        .greek => certain(.el, dominant.letters),
        .hebrew => certain(.he, dominant.letters),
        .devanagari => certain(.hi, dominant.letters),
        .thai => certain(.th, dominant.letters),
        .cjk => decideCjk(window, counts),
        .other => .{ .language = .und, .confidence = 0 },
    };
    if (guess.language == .und) return detection;
    detection.language = guess.language;
    detection.confidence = std.math.clamp(guess.confidence * dominant.share, 0, 1);
    assert(detection.confidence >= 0);
    assert(detection.confidence <= 1);
    return detection;
}

/// Whether `detect(text)` names Chinese, Japanese or Korean, decided by the script pass alone:
/// that holds exactly when the text has letters and Han, kana and Hangul dominate them, since
/// `decideCjk` never answers `und`. Routing needs no more than this, and it costs a fraction of
/// the n-gram scoring that tells the alphabetic languages apart.
pub fn isCjkText(text: []const u8) bool {
    const counts = script.count(text);
    if (counts.letters_total == 0) return false;
    return dominantGroup(counts).group == .cjk;
}

test "isCjkText agrees with detect on every kind of text" {
    const samples = [_][]const u8{
        "",             "12345 !!", "Hello there",
        "请用中文解释量子计算",
        "東京都庁",
        "こんにちは",
        "안녕하세요",
        "Translate 你好 into English",
        "用中文解释 Kubernetes",
        "Привет мир",
        "中",
        "a中",
        "ab中",
        "\xff\xfe\xfd",
        "مرحبا بالعالم",
        "Γειά σου",
        "日本語 and English and more English words",
    };
    for (samples) |text| {
        try std.testing.expectEqual(isCjk(detect(text).language), isCjkText(text));
    }
    var prng = std.Random.DefaultPrng.init(0x5eed);
    const random = prng.random();
    const pieces = [_][]const u8{ "a", "word ", "中", "日本", "の", "한", "я", "é", "\xe4", " ", "1", "ß", "ア" };
    for (0..2_000) |_| {
        var buffer: [64]u8 = undefined;
        var length: usize = 0;
        while (true) {
            const piece = pieces[random.uintLessThan(usize, pieces.len)];
            if (length + piece.len > buffer.len) break;
            @memcpy(buffer[length..][0..piece.len], piece);
            length += piece.len;
        }
        const text = buffer[0..random.uintLessThan(usize, length + 1)];
        try std.testing.expectEqual(isCjk(detect(text).language), isCjkText(text));
    }
}

/// Scripts that decide between the same languages are grouped: Han, kana and Hangul are one.
const Group = enum { latin, cyrillic, greek, arabic, hebrew, devanagari, thai, cjk, other };

const Dominant = struct {
    group: Group,
    /// Letters of the group, unweighted.
    letters: u32,
    /// The group's share of the weighted letters.
    share: f32,
};

fn groupOf(letters_script: Script) Group {
    return switch (letters_script) {
        .latin => .latin,
        .cyrillic => .cyrillic,
        .greek => .greek,
        .arabic => .arabic,
        .hebrew => .hebrew,
        .devanagari => .devanagari,
        .thai => .thai,
        .hangul, .hiragana, .katakana, .han => .cjk,
        .other => .other,
    };
}

fn dominantGroup(counts: script.Counts) Dominant {
    const group_count = @typeInfo(Group).@"enum".field_names.len;
    // Unrolled with the groups known at compile time, so that the sums stay in registers.
    var letters: [group_count]u64 = @splat(0);
    inline for (0..script.script_count) |index| {
        const group = comptime groupOf(@fromBackingInt(@as(u8, index)));
        letters[@backingInt(group)] += counts.letters[index];
    }
    var weighted_total: u64 = 0;
    var weighted: [group_count]u64 = undefined;
    inline for (&weighted, letters, 0..) |*value, group_letters, index| {
        const weight: u64 = if (index == @backingInt(Group.cjk)) cjk_letter_weight else 1;
        value.* = weight * group_letters;
        weighted_total += value.*;
    }
    assert(weighted_total > 0);
    // Ties go to the earlier group, so the choice does not depend on anything but the counts.
    var best: usize = 0;
    inline for (weighted, 0..) |value, index| {
        if (value > weighted[best]) best = index;
    }
    return .{
        .group = @fromBackingInt(@intCast(best)),
        .letters = @intCast(letters[best]),
        .share = @as(f32, @floatFromInt(weighted[best])) / @as(f32, @floatFromInt(weighted_total)),
    };
}

const Guess = struct {
    language: Language,
    /// Confidence within the dominant script, before scaling by that script's share.
    confidence: f32,
};

/// A script that only one language of the enumeration uses: confidence grows with the letters.
fn certain(language: Language, letters: u32) Guess {
    assert(letters > 0);
    const letters_float: f32 = @floatFromInt(letters);
    return .{ .language = language, .confidence = letters_float / (letters_float + 1) };
}

// ---------------------------------------------------------------------------------------------
// Latin and Cyrillic: the n-gram model.

/// The language of each lane of the model's tables, checked against the enumeration at comptime.
const model_languages: [language_model.tables.len][language_model.lanes_max]Language = table: {
    @setEvalBranchQuota(100_000);
    var result: [language_model.tables.len][language_model.lanes_max]Language = undefined;
    for (language_model.tables, &result) |table, *languages| {
        for (table.codes, languages, 0..) |language_code, *language, lane| {
            language.* = if (lane < table.languages_count) fromCode(&language_code).? else .und;
        }
    }
    break :table result;
};

comptime {
    assert(model_languages[@backingInt(language_model.Alphabet.latin)][0] == .en);
    assert(model_languages[@backingInt(language_model.Alphabet.cyrillic)][0] == .ru);
    assert(model_languages[@backingInt(language_model.Alphabet.han)][0] == .zh);
    assert(model_languages[@backingInt(language_model.Alphabet.han)][1] == .ja);
}

/// A lead of this many nats over the runner-up is worth a confidence of 1 - 1/e. The model's
/// naive independence makes its raw odds far too sure of themselves; on the held-out sentences
/// this scale keeps confidence close to the share of right answers at each level.
const confidence_scale_nats = 3.0;

fn decideModel(comptime alphabet: language_model.Alphabet, window: []const u8) Guess {
    const result = language_model.score(alphabet, window);
    const ranked = language_model.rank(alphabet, result.totals);
    // No feature, or features that favour no language: nothing to go on.
    if (result.features == 0 or ranked.cost_best == ranked.cost_second) return .{ .language = .und, .confidence = 0 };
    const margin_nats = @as(f32, @floatFromInt(ranked.cost_second - ranked.cost_best)) /
        @as(f32, @floatFromInt(language_model.cost_per_nat));
    const language = model_languages[@backingInt(alphabet)][ranked.lane_best];
    assert(language != .und);
    return .{ .language = language, .confidence = 1 - @exp(-margin_nats / confidence_scale_nats) };
}

// ---------------------------------------------------------------------------------------------
// Arabic script: Arabic or Persian.

/// A set of languages as a bit mask indexed by `Language`.
const LanguageSet = u32;

fn set(languages: []const Language) LanguageSet {
    var mask: LanguageSet = 0;
    for (languages) |language| mask |= @as(LanguageSet, 1) << @intCast(@backingInt(language));
    return mask;
}

/// Points per language: letters and words that only Arabic or only Persian writes.
const ArabicScores = struct { ar: f32 = 0, fa: f32 = 0 };

/// The filters: letters that only one of the two writes.
fn arabicLetterLanguage(codepoint: u21) ?Language {
    return switch (codepoint) {
        'پ', 'چ', 'ژ', 'گ', 'ک', 'ی' => .fa,
        'ة', 'ى', 'ي', 'ك' => .ar,
        else => null,
    };
}

/// Scores Arabic against Persian over `window`: one point per filter letter, one per function word.
pub fn scoreArabic(window: []const u8) ArabicScores {
    var scores: ArabicScores = .{};
    var word: Word = .{};
    var iterator: script.Utf8Lossy = .{ .bytes = window };
    while (iterator.next()) |codepoint| {
        if (arabicLetterLanguage(codepoint)) |language| addArabic(&scores, set(&.{language}));
        if (script.classify(codepoint) == .arabic) {
            word.append(codepoint);
        } else {
            addArabic(&scores, word.languages());
            word = .{};
        }
    }
    addArabic(&scores, word.languages());
    return scores;
}

fn addArabic(scores: *ArabicScores, languages: LanguageSet) void {
    if (languages == 0) return;
    const points = 1.0 / @as(f32, @floatFromInt(@popCount(languages)));
    if (languages & set(&.{.ar}) != 0) scores.ar += points;
    if (languages & set(&.{.fa}) != 0) scores.fa += points;
}

/// Arabic unless Persian has more evidence. Confidence grows with the evidence of the winner and
/// with its margin over the other.
fn decideArabic(scores: ArabicScores) Guess {
    const language: Language = if (scores.fa > scores.ar) .fa else .ar;
    const score_best = @max(scores.ar, scores.fa);
    // Without evidence, Arabic (the script's most common language) at even odds.
    if (score_best == 0) return .{ .language = .ar, .confidence = 0.5 };
    const margin = (score_best - @min(scores.ar, scores.fa)) / score_best;
    const evidence = score_best / (score_best + 1);
    return .{ .language = language, .confidence = evidence * (0.4 + 0.6 * margin) };
}

const word_bytes_max = 24;

/// A word being read; words longer than any function word are never looked up.
const Word = struct {
    bytes: [word_bytes_max]u8 = undefined,
    length: u8 = 0,
    too_long: bool = false,

    fn append(word: *Word, codepoint: u21) void {
        var encoded: [4]u8 = undefined;
        const length = std.unicode.utf8Encode(codepoint, &encoded) catch unreachable; // A decoded code point.
        if (word.length + length > word_bytes_max) {
            word.too_long = true;
            return;
        }
        @memcpy(word.bytes[word.length..][0..length], encoded[0..length]);
        word.length += length;
    }

    fn languages(word: *const Word) LanguageSet {
        if (word.too_long or word.length == 0) return 0;
        return lookupWord(word.bytes[0..word.length]);
    }
};

/// Very frequent words. A word listed for both languages counts for each, split.
const function_word_lists = [_]struct { language: Language, words: []const u8 }{
    .{ .language = .ar, .words = "في من على إلى أن هذا هذه التي الذي كان ما لا عن مع" },
    .{ .language = .fa, .words = "در از به که این را با است آن برای های می یک شود" },
};

const WordSlot = struct {
    bytes: [word_bytes_max]u8 = @splat(0),
    length: u8 = 0,
    languages: LanguageSet = 0,
};

/// Open addressing with linear probing; at most half full, so lookups end after a few probes.
const word_slot_count = 128;

fn hashWord(bytes: []const u8) u32 {
    var hash: u32 = 0x811C9DC5; // FNV-1a
    for (bytes) |byte| hash = (hash ^ byte) *% 0x01000193;
    return hash;
}

const function_words: [word_slot_count]WordSlot = table: {
    @setEvalBranchQuota(200_000);
    var slots: [word_slot_count]WordSlot = @splat(.{});
    var used: usize = 0;
    for (function_word_lists) |list| {
        var words = std.mem.tokenizeScalar(u8, list.words, ' ');
        while (words.next()) |word| {
            assert(word.len <= word_bytes_max);
            var index = hashWord(word) % word_slot_count;
            while (slots[index].length != 0 and
                !std.mem.eql(u8, slots[index].bytes[0..slots[index].length], word))
            {
                index = (index + 1) % word_slot_count;
            }
            if (slots[index].length == 0) used += 1;
            slots[index].bytes[0..word.len].* = word[0..word.len].*;
            slots[index].length = word.len;
            slots[index].languages |= set(&.{list.language});
        }
    }
    assert(used * 2 <= word_slot_count);
    break :table slots;
};

fn lookupWord(word: []const u8) LanguageSet {
    assert(word.len > 0);
    assert(word.len <= word_bytes_max);
    var index = hashWord(word) % word_slot_count;
    for (0..word_slot_count) |_| {
        const slot = &function_words[index];
        if (slot.length == 0) return 0;
        if (slot.length == word.len and std.mem.eql(u8, slot.bytes[0..slot.length], word)) {
            return slot.languages;
        }
        index = (index + 1) % word_slot_count;
    }
    unreachable; // The table is at most half full.
}

// ---------------------------------------------------------------------------------------------
// Han, kana, Hangul.

/// Penalties against each reading of Han text, in half points. The lowest total wins.
pub const HanReading = enum { simplified, traditional, japanese };
pub const Penalties = [3]u16;

/// How a character weighs against each reading. Forms exist in one, two or all three writing
/// systems: 们 only in simplified Chinese, 們 only in traditional, 込 only in Japanese; 国 in
/// simplified Chinese and Japanese, 東 in traditional Chinese and Japanese. A Japanese text
/// written in kanji alone still mixes the last two kinds, which neither Chinese has.
const HanClass = enum(u8) {
    simplified_only,
    traditional_only,
    japanese_only,
    simplified_and_japanese,
    traditional_and_japanese,
    /// Frequent Chinese words that Japanese barely uses (你 是 也).
    chinese_frequent,
    /// Frequent in Chinese, used in Japanese compounds (的 了 在).
    chinese_common,
    /// Frequent in Japanese, rare in Chinese (私 彼).
    japanese_frequent,

    fn penalties(class: HanClass) Penalties {
        return switch (class) {
            .simplified_only => .{ 0, 6, 6 },
            .traditional_only => .{ 6, 0, 6 },
            .japanese_only => .{ 6, 6, 0 },
            .simplified_and_japanese => .{ 0, 6, 0 },
            .traditional_and_japanese => .{ 6, 0, 0 },
            .chinese_frequent => .{ 0, 0, 4 },
            .chinese_common => .{ 0, 0, 1 },
            .japanese_frequent => .{ 2, 2, 0 },
        };
    }
};

/// Kana: hiragana (particles, inflections) is the strongest sign of Japanese; katakana also
/// appears in Chinese-language text quoting Japanese names, so it weighs less.
const hiragana_penalties: Penalties = .{ 4, 4, 0 };
const katakana_penalties: Penalties = .{ 1, 1, 0 };

const han_class_lists = [_]struct { class: HanClass, characters: []const u8 }{
    .{ .class = .simplified_only, .characters =
    \\这个为们过于对时现义种统构关实经后间发细计进识术观无变则结动质题记论机开应从证类忆语传复组图标处问里认书设环验连仅态艺确
    \\别说还么吗东车长门马鸟鱼见贝页风飞龙电话让谁请该读议样气广县乐卖驿济圆钱铁银钟错边达远运选离难亿乌买亚产亲众优伤价伟华单
    \\卫厂历压厅叶启员听园围场坏块坚备头夺奋妈宁宽导层岁币师带帮庆库张归录总战户护报拥择换显杀杂权极树检欢毕汇汉沟测浓热爱疗监
    \\盖积稳穷笔简粮紧红约级纪纯纸线练织终给继绩续维综绿编网罗联职肤胜脑脚节药获营虑虽补规视觉训讨讲许访评诉词译试诗详误调谈谢
    \\负财责败货购费资赛赞转轮软轻较辆输递遗邮闻队阳阴阶际陆险预领频颜饭馆驾齐龄两严丰临举乔亏亩仓仪伙伞伦伪侠侣侦侧侨俩债倾偿
    \\储兰兴养兽冈册军农决况冻净凉减凑凤凭击划刘刚创删剂剑剧劝办务励劲劳势勋匀协厉厌厕厘厢厦叠叹吓吕吴呜咏响哑唤喷团坛坝坟坠垄
    \\垒垦垫墙壳夹奖妆妇娇娱婴宠审宪宫宾寻寿尔尘尝屡岂岗岛岭帅帐庄庙废异弃弥弯弹彻忧怀怜恳恶惊惧惩惯愤愿戏扑执扩扫扬扰抚抛抢拟
    \\拢拦拨挂挡挣挤挥捞损捡掷揽搁搂摄摆摇摊撑敌斋旷昙晋晓晕暂杆杠杨枣枪柜栅栈栋栏档桥毙毡汤沦沪泪泼泽洁浆浑涂涛涨涩渊渐渔溃满
    \\滚滤滥滨滩潇灭灵灿炼烁烂烛烟烦烧焕爷牵牺犹狮狱猎猪玛珐琐琼畅疮疯痒瘫皱盏盐盘瞒矫矿码砖础硕碍祸秽窍窑窜窝竖竞笼筑筛筹签纠
    \\纤纬纱纲纳纵纷纹纺绍绑绒绕绘络绝绪绵缀缓缘缩缴罚罢聪肃肠肾肿胀胁胶脉脏腊舰舱芦苏苹范荐荡荣莱莹萧萨蓝蚀蚁衬袜袭觅讯讽诚诞
    \\询谋谓谜谨谱谴贡贤贩贪贫贯贱贴贵贷贸贺赋赌赏赔赖赚赠赢赶趋跃踪躯轨轩轰载辅辈辉辑辖辩辽迁迈违迟适逊逻郑酱酿释钉针钓钢钥钻
    \\铃铜铝铭铺链销锁锅锋锐键锻镇镜闪闭闯闲闸闹阀阁阅阵隐隶雾须顶项顺顾顿颁颂颇颈颗额飘饮饰饱饲饼驱驶驻骂骑骗骤鲁鲜鸡鸣鸭鸿鹅
    \\鹏鹤齿龟
    },
    .{ .class = .traditional_only, .characters =
    \\們這說對發麼嗎來會學國與經讓從點體當關實裡於歡氣廣圓賣讀樂圖驛濟縣號聲區醫畫獨狀數將變轉稱據擊處總續邊覺觀價戰權應舊萬條
    \\聽廳歲團檢險驗藝藥壓齡鐵鹽勞營榮譯釋擇澤辭亂禮證黨寫傳兩隨隱惡稅齒鬥歷歸寶蟲戲雙礦顯擴妳爲臺灣樣
    },
    .{ .class = .japanese_only, .characters =
    \\込働畑峠辻枠匂凪搾駅済県広円売読様気楽図経発対従譲関実歓転拠撃処総続辺覚観価戦権応聴庁歳団検険験芸薬圧齢鉄塩労営栄訳釈択
    \\沢証伝両隠悪歯闘歴帰戯鉱顕拡説銭効桜恵弾徳黒巻剤斎帯渋絵縁縄穏穂粋醸嬢壌獣猟軽渓鶏雑姫歩渉塁鋭脳悩巣単禅繊蔵臓舎拝勧剣倹
    \\専囲廃変亜壱仮殻陥寛暁駆勲掲蛍継圏厳砕桟賛残糸児収縦粛奨焼乗浄剰畳髄枢瀬斉摂荘捜挿騒増滝遅昼鋳徴懲勅逓稲届弐髪抜晩浜払仏
    \\塀豊毎満黙揺謡頼覧竜緑涙霊暦錬録産
    },
    .{ .class = .simplified_and_japanese, .characters =
    \\国学会来体点当与数将号区声医画独状断旧条担称装没黄随写礼党乱双万虫宝尽湿浅径茎峡挟狭灯炉楼触蚕参窃壮争属胆麦辞滞恋湾蛮惨
    \\却献脱虚践堕
    },
    .{ .class = .traditional_and_japanese, .characters =
    \\憲現間時語問題場見開機書動類無異確態話論識構細義術報計質遺複築結後記個決進終強監統極組則葉係認測響員電車長門馬魚鳥貝風飛
    \\誰請該議親東贈憎併頻虜鎮頁龍
    },
    .{ .class = .chinese_frequent, .characters = "你她呢吧啊很也是什怎哪您呀咱啥" },
    .{ .class = .chinese_common, .characters = "的了在我就和有" },
    .{ .class = .japanese_frequent, .characters = "私彼" },
};

const HanEntry = struct {
    codepoint: u21,
    class: HanClass,
};

const han_entry_count = count: {
    @setEvalBranchQuota(100_000);
    var total: usize = 0;
    for (han_class_lists) |list| {
        const view = std.unicode.Utf8View.initComptime(list.characters);
        var iterator = view.iterator();
        while (iterator.nextCodepoint()) |codepoint| {
            if (script.classify(codepoint) == .han) total += 1;
        }
    }
    break :count total;
};

/// Sorted by code point for binary search; each character in exactly one class.
const han_entries: [han_entry_count]HanEntry = table: {
    @setEvalBranchQuota(2_000_000);
    var entries: [han_entry_count]HanEntry = undefined;
    var index: usize = 0;
    for (han_class_lists) |list| {
        const view = std.unicode.Utf8View.initComptime(list.characters);
        var iterator = view.iterator();
        while (iterator.nextCodepoint()) |codepoint| {
            if (script.classify(codepoint) != .han) continue; // Line breaks of the literals.
            entries[index] = .{ .codepoint = codepoint, .class = list.class };
            index += 1;
        }
    }
    assert(index == han_entry_count);
    std.mem.sortUnstable(HanEntry, &entries, {}, struct {
        fn lessThan(_: void, a: HanEntry, b: HanEntry) bool {
            return a.codepoint < b.codepoint;
        }
    }.lessThan);
    for (entries[1..], entries[0 .. entries.len - 1]) |entry, previous| {
        assert(previous.codepoint < entry.codepoint); // Sorted, and no character listed twice.
    }
    break :table entries;
};

/// The class of each code point of the CJK Unified Ideographs block, where nearly all of Chinese
/// and Japanese text lies: one load per character instead of a binary search's ten branches.
const han_block_first = 0x4E00;
const han_block_last = 0x9FFF;
const han_class_none = 0xFF;
const han_block_classes: [han_block_last - han_block_first + 1]u8 = table: {
    @setEvalBranchQuota(100_000);
    var classes: [han_block_last - han_block_first + 1]u8 = @splat(han_class_none);
    for (han_entries) |entry| {
        if (entry.codepoint < han_block_first or entry.codepoint > han_block_last) continue;
        classes[entry.codepoint - han_block_first] = @backingInt(entry.class);
    }
    break :table classes;
};

comptime {
    assert(@typeInfo(HanClass).@"enum".field_names.len < han_class_none);
}

fn hanClass(codepoint: u21) ?HanClass {
    if (codepoint >= han_block_first and codepoint <= han_block_last) {
        const class = han_block_classes[codepoint - han_block_first];
        return if (class == han_class_none) null else @fromBackingInt(class);
    }
    return hanClassSearched(codepoint);
}

test "hanClass: the block's table agrees with the search over every code point of the block" {
    var codepoint: u21 = han_block_first;
    while (codepoint <= han_block_last) : (codepoint += 1) {
        try testing.expectEqual(hanClassSearched(codepoint), hanClass(codepoint));
    }
    try testing.expectEqual(@as(?HanClass, .chinese_frequent), hanClass('你'));
    try testing.expectEqual(@as(?HanClass, null), hanClass('A'));
}

fn hanClassSearched(codepoint: u21) ?HanClass {
    var low: usize = 0;
    var high: usize = han_entries.len;
    while (low < high) {
        const middle = low + (high - low) / 2;
        const entry = han_entries[middle];
        if (entry.codepoint == codepoint) return entry.class;
        if (entry.codepoint < codepoint) low = middle + 1 else high = middle;
    }
    return null;
}

/// Sums the penalties of the Han and kana characters of `window` against each reading.
pub fn scoreHan(window: []const u8) Penalties {
    var totals: [3]u32 = @splat(0);
    var iterator: script.Utf8Lossy = .{ .bytes = window };
    while (iterator.next()) |codepoint| {
        const penalties: Penalties = switch (script.classify(codepoint) orelse continue) {
            .hiragana => hiragana_penalties,
            .katakana => katakana_penalties,
            .han => (hanClass(codepoint) orelse continue).penalties(),
            else => continue,
        };
        for (&totals, penalties) |*total, penalty| total.* += penalty;
    }
    // A window holds at most 64 Ki code points with penalties of at most 6 each.
    var result: Penalties = undefined;
    for (&result, totals) |*penalty, total| penalty.* = @intCast(@min(total, std.math.maxInt(u16)));
    return result;
}

/// Half a point of `scoreHan` penalty is worth this many nats beside the Han model's costs: a
/// hiragana letter (4 half points) then counts 2 nats against Chinese.
const han_penalty_nats = 0.5;
/// Evidence Japanese needs before Han text is taken for it.
const han_chinese_prior_nats = 2.5;
/// Chinese text next to never writes kana: each kana letter is this much evidence for Japanese.
const kana_nats = 3.0;

fn decideCjk(window: []const u8, counts: script.Counts) Guess {
    const hangul = counts.letters[@backingInt(Script.hangul)];
    const kana = counts.letters[@backingInt(Script.hiragana)] + counts.letters[@backingInt(Script.katakana)];
    const han = counts.letters[@backingInt(Script.han)];
    // Neither Chinese nor Japanese writes Hangul; Korean writes Han (hanja) only here and there.
    if (hangul > 0 and hangul >= kana and @as(u64, hangul) * 2 >= han) return certain(.ko, hangul);

    // Two kinds of evidence, in nats for Japanese: the trained Han model (character n-grams of
    // Han runs), and the kana and character forms of `scoreHan` (which knows traditional
    // Chinese, absent from the training text).
    const han_score = language_model.score(.han, window);
    const zh_lane = 0;
    const ja_lane = 1;
    const model_nats = (@as(f32, @floatFromInt(han_score.totals[zh_lane])) - @as(f32, @floatFromInt(han_score.totals[ja_lane]))) /
        @as(f32, @floatFromInt(language_model.cost_per_nat));
    const penalties = scoreHan(window);
    const japanese = penalties[@backingInt(HanReading.japanese)];
    const chinese = @min(
        penalties[@backingInt(HanReading.simplified)],
        penalties[@backingInt(HanReading.traditional)],
    );
    const form_nats = han_penalty_nats * (@as(f32, @floatFromInt(chinese)) - @as(f32, @floatFromInt(japanese)));
    // Han-only text is more often Chinese: without other evidence it is taken for Chinese, and
    // the odds say how little that means.
    const kana_evidence_nats = kana_nats * @as(f32, @floatFromInt(@min(kana, 1000)));
    const japanese_nats = model_nats + form_nats + kana_evidence_nats - han_chinese_prior_nats;
    const language: Language = if (japanese_nats > 0) .ja else .zh;
    return .{ .language = language, .confidence = 0.5 + 0.5 * (1 - @exp(-@abs(japanese_nats) / confidence_scale_nats)) };
}

// ---------------------------------------------------------------------------------------------
// Tests.

const testing = std.testing;

fn expectLanguage(expected: Language, text: []const u8) !void {
    const detection = detect(text);
    if (detection.language != expected) {
        std.debug.print("\"{s}\": expected {s}, detected {s} ({d:.2})\n", .{
            text, code(expected), code(detection.language), detection.confidence,
        });
        return error.TestUnexpectedLanguage;
    }
}

test "code and fromCode round-trip" {
    for (0..language_count) |index| {
        const language: Language = @fromBackingInt(@as(u8, @intCast(index)));
        try testing.expectEqual(language, fromCode(code(language)).?);
    }
    try testing.expectEqualStrings("und", code(.und));
    try testing.expectEqualStrings("en", code(.en));
    try testing.expectEqual(@as(?Language, null), fromCode("xx"));
    try testing.expectEqual(@as(?Language, null), fromCode(""));
    try testing.expect(isCjk(.zh) and isCjk(.ja) and isCjk(.ko));
    try testing.expect(!isCjk(.en) and !isCjk(.und) and !isCjk(.vi));
}

test "detect: short prompts in the main languages" {
    try expectLanguage(.en, "Hello, how are you?");
    try expectLanguage(.en, "What is 2+2?");
    try expectLanguage(.en, "Write a haiku about the sea");
    try expectLanguage(.zh, "你好");
    try expectLanguage(.zh, "你好吗？");
    try expectLanguage(.zh, "中文");
    try expectLanguage(.ja, "こんにちは");
    try expectLanguage(.ja, "ありがとう");
    try expectLanguage(.ja, "カタカナ");
    try expectLanguage(.ko, "안녕하세요");
    try expectLanguage(.ru, "Привет, как дела?");
    try expectLanguage(.ru, "Москва");
    try expectLanguage(.el, "Γεια σου");
    try expectLanguage(.he, "שלום");
    try expectLanguage(.th, "สวัสดี");
    try expectLanguage(.hi, "नमस्ते");
    try expectLanguage(.ar, "مرحبا كيف حالك");
}

test "detect: longer prompts in the main languages" {
    try expectLanguage(.en, "Please summarize the following article in three bullet points and " ++
        "explain why the author thinks the economy will slow down next year.");
    try expectLanguage(.zh, "请用简单的语言解释一下量子计算的基本原理，以及它和传统计算机有什么不同。");
    try expectLanguage(.zh, "我們這個週末要去台灣旅遊，請幫我規劃一下行程。"); // traditional
    try expectLanguage(.ja, "量子コンピュータの実現には多くの困難が伴う。量子ビットは非常にデリケートである。");
    try expectLanguage(.ko, "다음 문장을 영어로 번역해 주세요. 오늘은 날씨가 정말 좋네요.");
    try expectLanguage(.ru, "Объясните, пожалуйста, как работает квантовый компьютер и чем он отличается от обычного.");
    try expectLanguage(.el, "Η κβαντική μηχανική είναι θεμελιώδης θεωρία της φυσικής.");
}

test "detect: kanji-only Japanese is not taken for Chinese" {
    try expectLanguage(.ja, "東京都庁");
    try expectLanguage(.ja, "日本国憲法第九条");
    try expectLanguage(.ja, "経済産業省発表");
    try expectLanguage(.ja, "駅前広場");
    try expectLanguage(.zh, "经济产业省发表"); // the same words in simplified Chinese
    try expectLanguage(.zh, "他们说这个问题很重要");
    // Lists of nouns: Japanese separates them with 、, Chinese mostly with ，.
    try expectLanguage(.ja, "寿司、天麩羅、蕎麦、刺身。");
    try expectLanguage(.zh, "苹果，香蕉，橙子，葡萄。");
}

test "detect: Russian, Ukrainian and Bulgarian are told apart" {
    try expectLanguage(.ru, "Это было очень интересно, мы смотрели фильм.");
    try expectLanguage(.uk, "Привіт, як справи? Це дуже цікаво, і ми їдемо додому.");
    try expectLanguage(.uk, "Ґанок їхнього будинку");
    try expectLanguage(.bg, "Здравей, как си? Това е много хубаво, ще дойда утре.");
    try expectLanguage(.bg, "Къде е гарата? Пътят към морето минава през планината.");
    // Russian's separator 'ъ' (before е, ё, ю, я) is not Bulgarian evidence.
    try expectLanguage(.ru, "Объясните, как работает фотосинтез.");
    try expectLanguage(.ru, "Подъезд был закрыт.");
    try expectLanguage(.bg, "България е хубава.");
}

test "detect: Latin languages by filters and function words" {
    try expectLanguage(.fr, "Bonjour, comment allez-vous ?");
    try expectLanguage(.de, "Die Straße ist sehr schön und ich möchte nicht nach Hause gehen.");
    try expectLanguage(.es, "¿Dónde está la estación? Mañana vamos a la playa.");
    try expectLanguage(.pt, "Não sei o que fazer, mas você está aqui comigo.");
    try expectLanguage(.it, "Questo è il libro che ho letto, perché mi piace molto.");
    try expectLanguage(.nl, "Het is een mooie dag en ik ga naar de markt.");
    try expectLanguage(.pl, "Dzień dobry, jak się masz? Żółć i łąka są piękne.");
    try expectLanguage(.cs, "Dobrý den, jak se máte? Řeka je velmi krásná.");
    try expectLanguage(.sv, "Jag är inte hemma i dag, men vi kan träffas och äta middag.");
    try expectLanguage(.da, "Jeg er ikke hjemme i dag, men vi kan mødes og spise sammen.");
    try expectLanguage(.fi, "Minä olen kotona, ja hän on töissä mutta tulee illalla.");
    try expectLanguage(.hu, "Nem tudom, hogy mit csinál, de ez nagyon érdekes és szép.");
    try expectLanguage(.ro, "Aceasta este o carte foarte bună și îmi place în fiecare zi.");
    try expectLanguage(.tr, "Merhaba, nasılsın? Bugün hava çok güzel ve ben dışarı çıkacağım.");
    try expectLanguage(.vi, "Xin chào, bạn có khỏe không? Tôi đang học tiếng Việt.");
}

test "detect: Latin text that is not clearly English is not English with confidence" {
    const french = detect("Bonjour, comment allez-vous ?");
    try testing.expect(french.language != .en or french.confidence <= 0.5);
    const unknown = detect("Kubernetes");
    try testing.expect(unknown.language != .en or unknown.confidence <= 0.5);
    const english = detect("Hello, how are you? I would like to know the weather in London.");
    try testing.expectEqual(Language.en, english.language);
    try testing.expect(english.confidence > 0.5);
}

test "detect: Arabic and Persian" {
    try expectLanguage(.ar, "ما هي عاصمة المملكة العربية السعودية؟ هذه المدينة كبيرة جدا");
    try expectLanguage(.fa, "این یک کتاب خوب است که من برای شما خریدم");
}

test "detect: nothing to go on gives und with confidence zero" {
    const inputs = [_][]const u8{ "", "   \n\t", "12345 + 678 = 7023", "!!! ??? ... ---", "😀🎉👍", "\xFF\xFE\x80" };
    for (inputs) |text| {
        const detection = detect(text);
        try testing.expectEqual(Language.und, detection.language);
        try testing.expectEqual(@as(f32, 0), detection.confidence);
        try testing.expectEqual(@as(u32, 0), detection.letters);
        for (detection.script_shares) |share| try testing.expectEqual(@as(f32, 0), share);
    }
    try testing.expectEqual(@as(u32, 3), detect("\xFF\xFE\x80").bytes_invalid);
    try testing.expectEqual(Language.und, detect("Ⴀ ა ბ გ").language); // Georgian: other
}

test "detect: mixed text keeps the dominant language and reports script shares" {
    const detection = detect("请把这句话翻译成英文：Hello");
    try testing.expectEqual(Language.zh, detection.language);
    const han_share = detection.script_shares[@backingInt(Script.han)];
    const latin_share = detection.script_shares[@backingInt(Script.latin)];
    try testing.expect(han_share > 0.5);
    try testing.expect(latin_share > 0.2);
    try testing.expectApproxEqAbs(@as(f32, 1), han_share + latin_share, 1e-6);
    try expectLanguage(.en, "Translate 你好 into English please");
}

test "detect: invalid UTF-8 never fails and is counted" {
    const detection = detect("Hello\xC0\x80 world \xED\xA0\x80 how are you\xE4\xB8");
    try testing.expectEqual(Language.en, detection.language);
    try testing.expectEqual(@as(u32, 6), detection.bytes_invalid);
    try testing.expectEqual(Language.ja, detect("こんにちは\x00\x00世界").language);
}

test "detect: long text bounds the scoring but counts every letter" {
    var buffer: [window_bytes_max * 3]u8 = undefined;
    const sentence = "the quick brown fox jumps over the lazy dog and it is fine. ";
    var index: usize = 0;
    while (index + sentence.len <= buffer.len) : (index += sentence.len) {
        @memcpy(buffer[index..][0..sentence.len], sentence);
    }
    const detection = detect(buffer[0..index]);
    try testing.expectEqual(Language.en, detection.language);
    try testing.expect(detection.confidence > 0.9);
    try testing.expectEqual(@as(u32, @intCast(index / sentence.len * 46)), detection.letters);
}

test "fuzz: random bytes keep the invariants" {
    var prng = std.Random.DefaultPrng.init(0x1A46_0A6E);
    const random = prng.random();
    const alphabet = [_][]const u8{ "a", "e", " ", "的", "の", "한", "ы", "і", "é", "\xFF", "\x80", "\xE4", ".", "7" };
    var buffer: [512]u8 = undefined;
    for (0..500) |_| {
        const length = random.uintAtMost(usize, buffer.len);
        if (random.boolean()) {
            random.bytes(buffer[0..length]);
        } else {
            var used: usize = 0;
            while (true) {
                const piece = alphabet[random.uintLessThan(usize, alphabet.len)];
                if (used + piece.len > length) break;
                @memcpy(buffer[used..][0..piece.len], piece);
                used += piece.len;
            }
            @memset(buffer[used..length], ' ');
        }
        const detection = detect(buffer[0..length]);
        try testing.expect(detection.confidence >= 0 and detection.confidence <= 1);
        try testing.expect(detection.letters <= length);
        try testing.expect(detection.bytes_invalid <= length);
        try testing.expectEqual(detection.language == .und, detection.confidence == 0);
        var shares_sum: f32 = 0;
        for (detection.script_shares) |share| shares_sum += share;
        if (detection.letters == 0) {
            try testing.expectEqual(@as(f32, 0), shares_sum);
        } else {
            try testing.expectApproxEqAbs(@as(f32, 1), shares_sum, 1e-4);
        }
    }
}
