//! Han, kana, Hangul: Chinese, Japanese or Korean. Hangul decides Korean; between Chinese and
//! Japanese, the Han model of `language_model.zig` weighs character n-grams, and `scoreHan`
//! weighs kana and the characters whose form differs between simplified Chinese, traditional
//! Chinese and Japanese, so that kanji-only Japanese ("経済産業省発表", "日本国憲法第九条") is not
//! taken for Chinese. `language.zig`'s `detect` calls `decideCjk`.
const std = @import("std");
const assert = std.debug.assert;
const script = @import("script.zig");
const Script = script.Script;
const language_module = @import("language.zig");
const language_model = @import("language_model.zig");

const Language = language_module.Language;
const Guess = language_module.Guess;
const certain = language_module.certain;
const confidence_scale_nats = language_module.confidence_scale_nats;
const testing = std.testing;

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

pub fn decideCjk(window: []const u8, counts: script.Counts) Guess {
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
    // Chinese prose writes no hiragana: beside it, the Han model's n-grams (short runs of kanji
    // between particles, which Chinese shares) are no evidence against Japanese; the character
    // forms still are ("我の最爱" stays Chinese).
    const hiragana = counts.letters[@backingInt(Script.hiragana)];
    const model_counted_nats = if (hiragana > 0) @max(model_nats, 0) else model_nats;
    const japanese_nats = model_counted_nats + form_nats + kana_evidence_nats - han_chinese_prior_nats;
    const language: Language = if (japanese_nats > 0) .ja else .zh;
    return .{ .language = language, .confidence = 0.5 + 0.5 * (1 - @exp(-@abs(japanese_nats) / confidence_scale_nats)) };
}
