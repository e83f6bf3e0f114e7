"""``/autonomous/plan`` and ``/autonomous/status``: the endpoints earlier releases promised.

A plan is asked of a model through the router like any chat call (same chain, fallback and
accounting): the goal goes out with an instruction to answer in numbered steps and one
``Reasoning:`` line, and the answer is read back into ``steps`` and ``reasoning``. A model that
ignores the format still yields a plan: each non-empty line is then a step.
"""

from __future__ import annotations

import re
from typing import Any

from .._results import Response

__all__ = ["plan_document", "plan_messages", "read_plan"]

PLANNER_INSTRUCTION = (
    "You are a planner. Break the user's goal into a short list of concrete steps. Answer with the "
    "steps only, one per line, numbered 1., 2., 3., then one final line starting with 'Reasoning:' "
    "that says in one sentence why this order."
)
STEPS_MAX = 50
_STEP = re.compile(r"^\s*(?:\d{1,3}[.)]|[-*•])\s+(?P<text>\S.*)$")
_REASONING = re.compile(r"^\s*reasoning\s*:\s*(?P<text>.*)$", re.IGNORECASE)


def plan_messages(goal: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": PLANNER_INSTRUCTION}, {"role": "user", "content": goal}]


def read_plan(text: str) -> tuple[list[str], str]:
    """(steps, reasoning) from a model's answer."""
    steps: list[str] = []
    loose: list[str] = []
    reasoning = ""
    for line in text.splitlines():
        if (found := _REASONING.match(line)) is not None:
            reasoning = found["text"].strip()
        elif (found := _STEP.match(line)) is not None:
            steps.append(found["text"].strip())
        elif line.strip():
            loose.append(line.strip())
    return (steps or loose)[:STEPS_MAX], reasoning


def plan_document(goal: str, response: Response, route_reason: str) -> dict[str, Any]:
    steps, reasoning = read_plan(response.text)
    return {
        "goal": goal,
        "steps": steps,
        "reasoning": reasoning,
        "provider": response.provider,
        "model": response.model,
        "route": {"reason": route_reason, "language": response.language},
        "attempts": [{"provider": attempt.provider, "outcome": attempt.outcome} for attempt in response.attempts],
        "usage": {"prompt_tokens": response.usage.prompt_tokens, "completion_tokens": response.usage.completion_tokens},
        "cost_usd": response.cost_usd,
    }
