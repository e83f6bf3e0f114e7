"""Routing: `TrinityHybridNode.route` through cffi from Python, and `route` natively from Zig
(bench/route_native.zig), each beside its peer measured in the same run. The peer of the Python
figure is the native route it wraps; the peer of the native figure is the cheapest thing Python
can do with the library at all, an empty cffi call (`th_abi_version`).

    python bench/bench_route.py [--quick]   ->  bench/results/route.json
"""

from __future__ import annotations

from importlib.metadata import version

import native
import trinity_hybrid
from measure import ENVIRONMENT, arguments, compare_ns, empty, over, summarize, write_json
from trinity_hybrid import _native

PROMPTS = {
    "en": "Explain how a hash map works, and when I should prefer a balanced tree instead.",
    "zh": "请解释哈希表的工作原理，以及什么时候应该改用平衡树。",
}
CALLS_PER_PASS = 2000
NATIVE_ITERATIONS = 200_000
NATIVE_ITERATIONS_QUICK = 20_000
NATIVE_REPETITIONS = 11


def python_rows(quick: bool) -> dict[str, dict[str, float]]:
    """All Python figures, interleaved: per prompt the route and its parts called alone through
    the package (``route/en``, ``detect/en``, ...), the empty cffi call, and the loops' floors."""
    node = trinity_hybrid.TrinityHybridNode.from_env(ENVIRONMENT)
    _, lib = _native.load()
    assert int(lib.th_abi_version()) == _native.ABI_VERSION
    passes = {}
    for label, prompt in PROMPTS.items():
        inputs = [prompt] * CALLS_PER_PASS
        passes[f"route/{label}"] = over(node.route, inputs)
        passes[f"detect/{label}"] = over(trinity_hybrid.detect_language, inputs)
        passes[f"estimate/{label}"] = over(trinity_hybrid.estimate_tokens, inputs)
    passes["empty_cffi_call"] = empty(lib.th_abi_version, CALLS_PER_PASS)
    passes["loop_floor"] = over(len, [PROMPTS["en"]] * CALLS_PER_PASS)
    passes["empty_loop_floor"] = empty(object, CALLS_PER_PASS)
    return compare_ns(passes, quick=quick)


def main() -> None:
    options = arguments(__doc__.splitlines()[0])
    node = trinity_hybrid.TrinityHybridNode.from_env(ENVIRONMENT)
    chains = {label: list(node.route(prompt).providers) for label, prompt in PROMPTS.items()}
    measured = python_rows(options.quick)
    result = native.run(
        list(PROMPTS.items()),
        [],
        route_iterations=NATIVE_ITERATIONS_QUICK if options.quick else NATIVE_ITERATIONS,
        repetitions=3 if options.quick else NATIVE_REPETITIONS,
    )
    for label, chain in chains.items():
        assert result["prompts"][label]["chain"] == chain, f"native and Python chains differ for {label}"
    native_rows = {
        label: {operation: summarize(operations[operation]) for operation in ("route", "route_chain", "detect", "estimate", "select")}
        for label, operations in result["prompts"].items()
    }
    write_json(
        "route",
        {
            "prompts": PROMPTS,
            "environment_keys": sorted(ENVIRONMENT),
            "chains": chains,
            "python": {
                label: {operation: measured[f"{operation}/{label}"] for operation in ("route", "detect", "estimate")}
                for label in PROMPTS
            },
            "native": native_rows,
            "native_iterations": result["route_iterations"],
            "empty_cffi_call": measured["empty_cffi_call"],
            "loop_floor": measured["loop_floor"],
            "empty_loop_floor": measured["empty_loop_floor"],
            "versions": {"trinity-hybrid": version("trinity-hybrid")},
        },
    )


if __name__ == "__main__":
    main()
