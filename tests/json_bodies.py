"""Hypothesis strategies for fuzzing request parsers: any JSON value, a few values of every JSON
type, and ``typed``, a field's value that is usually of its type and sometimes of another."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

__all__ = ["JSON_VALUES", "JUNK", "typed"]

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 300) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=12,
)
# A few values of every JSON type, for a field that expects another.
JUNK = st.sampled_from([None, True, 0, -1, 2.5, "", "x", [], [1], {}, {"type": "text"}])


def typed(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Usually a value of the field's type, sometimes one of another type."""
    return st.sampled_from((strategy, strategy, strategy, strategy, JUNK)).flatmap(lambda chosen: chosen)
