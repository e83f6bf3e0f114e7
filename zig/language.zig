//! Language of a prompt, from its letters alone: no allocation, no failure, no files at run time.
//!
//! The script decides most languages outright (Greek, Hebrew, Thai, Devanagari, Hangul, kana).
//! Within a script shared by several languages the evidence is scored:
//! - Latin and Cyrillic: the embedded character n-gram model (`language_model.zig`, trained by
//!   scripts/train_language_model.py). Its unigram costs are the letter filters: a letter that a
//!   language never writes (ő, ř, ș, ğ, ø, ł, ã, ñ, ß, ơ; ї, є, ґ, ы, э) costs that language the
//!   most a feature can cost, so one such letter outweighs several common words.
//! - Arabic script: the n-gram model's Arabic table (Arabic essays and both languages' frequent
//!   words from wordfreq); where it has nothing to go on, letters that only Persian (پ چ ژ گ ک ی)
//!   or only Arabic (ة ى ي ك) writes and a few function words (`language_arabic.zig`).
//! - Han without kana: `scoreHan` (`language_han.zig`) weighs characters whose form differs
//!   between simplified Chinese, traditional Chinese and Japanese, so kanji-only Japanese
//!   ("経済産業省発表", "日本国憲法第九条") is not taken for Chinese.
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
const language_arabic = @import("language_arabic.zig");
const language_han = @import("language_han.zig");
const language_prose = @import("language_prose.zig");
const priorCosts = @import("language_prior.zig").priorCosts;
const language_group = @import("language_group.zig");
const dominantGroup = language_group.dominantGroup;

pub const scoreArabic = language_arabic.scoreArabic;
pub const HanReading = language_han.HanReading;
pub const Penalties = language_han.Penalties;
pub const scoreHan = language_han.scoreHan;

const decideArabic = language_arabic.decideArabic;
const decideCjk = language_han.decideCjk;

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

pub fn detect(text_whole: []const u8) Detection {
    var buffer: language_prose.Buffer = undefined;
    const prose = language_prose.proseCounted(text_whole, &buffer);
    const text, const counts = .{ prose.text, prose.counts };
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
        .arabic => decideArabicScript(window),
        .greek => certain(.el, dominant.letters),
        .hebrew => certain(.he, dominant.letters),
        .devanagari => certain(.hi, dominant.letters),
        .thai => certain(.th, dominant.letters),
        .cjk => decideCjk(window, counts),
        .other => .{ .language = .und, .confidence = 0 },
    };
    if (guess.language == .und) return detection;
    const alphabetic = dominant.group == .latin or dominant.group == .cyrillic;
    if (alphabetic and language_prose.tooShort(dominant.letters, guess.confidence)) return detection;
    const confidence = if (alphabetic) language_prose.lettersConfidence(guess.confidence, dominant.letters) else guess.confidence;
    detection.language = guess.language;
    detection.confidence = std.math.clamp(confidence * dominant.share, 0, 1);
    assert(detection.confidence >= 0);
    assert(detection.confidence <= 1);
    return detection;
}

/// Whether `detect(text)` names Chinese, Japanese or Korean, decided by the script pass alone:
/// that holds exactly when the text has letters and Han, kana and Hangul dominate them, since
/// `decideCjk` never answers `und`. Routing needs no more than this, and it costs a fraction of
/// the n-gram scoring that tells the alphabetic languages apart.
pub fn isCjkText(text_whole: []const u8) bool {
    var buffer: language_prose.Buffer = undefined;
    const counts = language_prose.proseCounted(text_whole, &buffer).counts;
    if (counts.letters_total == 0) return false;
    return dominantGroup(counts).group == .cjk;
}

/// A decider's answer, here and in `language_arabic.zig` and `language_han.zig`.
pub const Guess = struct {
    language: Language,
    /// Confidence within the dominant script, before scaling by that script's share.
    confidence: f32,
};

/// A script that only one language of the enumeration uses: confidence grows with the letters.
pub fn certain(language: Language, letters: u32) Guess {
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
    assert(model_languages[@backingInt(language_model.Alphabet.arabic)][0] == .ar);
    assert(model_languages[@backingInt(language_model.Alphabet.arabic)][1] == .fa);
}

/// Arabic or Persian: the model with Arabic's prior, and the letter and word filters where it has
/// nothing to go on.
fn decideArabicScript(window: []const u8) Guess {
    var result = language_model.score(.arabic, window);
    if (result.features == 0) return decideArabic(scoreArabic(window));
    result.totals += comptime priorCosts(.arabic);
    const guess = decideScored(.arabic, result);
    return if (guess.language == .und) decideArabic(scoreArabic(window)) else guess;
}

/// A lead of this many nats over the runner-up is worth a confidence of 1 - 1/e. The model's
/// naive independence makes its raw odds far too sure of themselves; on the held-out sentences
/// this scale keeps confidence close to the share of right answers at each level.
pub const confidence_scale_nats = 3.0;

fn decideModel(comptime alphabet: language_model.Alphabet, window: []const u8) Guess {
    var result = language_model.score(alphabet, window);
    if (alphabet == .cyrillic) result.totals += comptime priorCosts(.cyrillic);
    return decideScored(alphabet, result);
}

fn decideScored(comptime alphabet: language_model.Alphabet, result: language_model.Score(alphabet)) Guess {
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
// Tests.

const testing = std.testing;

test {
    _ = language_prose;
    _ = language_group;
}

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
    // Hiragana: the Han model's n-grams of the kanji around it do not outvote it.
    try expectLanguage(.ja, "2018年に中国");
    try expectLanguage(.zh, "我の最爱"); // A Chinese form (爱) still counts.
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
    // Words Russian and Ukrainian or Bulgarian both write: the prior's (`language_prior.zig`).
    try expectLanguage(.ru, "Квадрат модуля");
    try expectLanguage(.ru, "Мир на");
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
    // No letter that only Persian writes: the model's Persian words decide.
    try expectLanguage(.fa, "امروز هوا خوب است");
    try expectLanguage(.fa, "دانشگاه تهران");
    try expectLanguage(.ar, "ذهبنا إلى المدرسة صباحا");
    try expectLanguage(.ar, "مرحبا");
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
    try expectLanguage(.zh, "这些协议是 HTTP、HTTPS、FTP 和 SOCKS。");
    try expectLanguage(.zh, "用中文解释 Kubernetes");
    // CJK prose around Latin names and terms is CJK (language_group.zig's weight).
    try expectLanguage(.zh, "什么是chatterbot");
    try expectLanguage(.zh, "如何在 React 中使用 useEffect hook？");
    try expectLanguage(.zh, "写一个 SQL query 查询 users table");
    try expectLanguage(.ja, "Dockerとは");
    try expectLanguage(.ja, "Bilbo Bagginsは、TolkeinのLord of the Ringsのキャラクターです。");
    try expectLanguage(.ko, "Git rebase 사용법");
    try expectLanguage(.ko, "영어로 heuristic algorithmic logic의 약자야");
    // Latin prose that quotes a CJK word stays Latin.
    try expectLanguage(.en, "What does 我爱你 mean?");
    try expectLanguage(.en, "Is 東京 the capital of Japan?");
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
