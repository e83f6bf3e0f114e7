"""`python -m trinity_hybrid`: routes a few prompts in five languages and explains each decision.

Runs offline with no key at all (then only the local provider is available); with keys in the
environment the chains show the configured providers. `python -m trinity_hybrid "<prompt>"`
explains one prompt instead.
"""

from __future__ import annotations

import sys

from . import TrinityError, TrinityHybridNode

SAMPLE_PROMPTS = (
    ("en", "What is the derivative of x^3 + 2x?"),
    ("zh", "请用中文解释量子计算的基本原理。"),
    ("ru", "Объясните, как работает фотосинтез."),
    ("ja", "日本の首都はどこですか？"),
    ("ko", "인공지능의 장점은 무엇입니까?"),
)


def explain(node: TrinityHybridNode, prompt: str) -> str:
    route = node.route(prompt)
    chain = " -> ".join(route.providers) or "(none)"
    shown = prompt if len(prompt) <= 40 else prompt[:37] + "..."
    return (
        f"{shown:<42} language={route.language} ({route.detection.confidence:.2f}) "
        f"tokens~{route.tokens_estimated} rule={route.reason} chain={chain}"
    )


def main(arguments: list[str]) -> int:
    try:
        node = TrinityHybridNode.from_env()
        prompts = arguments or [prompt for _, prompt in SAMPLE_PROMPTS]
        for prompt in prompts:
            print(explain(node, prompt))
        print()
        node.print_status()
    except TrinityError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
