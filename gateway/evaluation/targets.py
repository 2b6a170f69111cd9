"""How far suggestions can reach while atende's targets hold, whatever the bar.

The figures at the configured bar say what one operating point gives. Two more say what
the decision could give at its best, so that two runs can be compared even where their
bars were chosen differently:

- `coverage`: the most in-scope messages suggested at any bar of the curve (steps of
  0.05) where precision is at least PRECISION and both out-of-scope and missing-intent
  messages get no suggestion for at least SILENT of them (`bar`: the one that gives it);
- `in_scope_coverage`: the most in-scope messages that can be suggested, best confidence
  first, while precision stays at least PRECISION, unanswerable messages aside. Where
  `coverage` is well short of this, the silences bind (or the curve's steps of 0.05);
  where the two are close, precision does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

PRECISION = 0.95
SILENT = 0.90
FIGURES = ("coverage", "precision", "out_of_scope_silent", "missing_intent_silent")


def reachable_on_curve(curve: Sequence[Mapping[str, Any]]) -> tuple[float | None, float | None]:
    """The highest coverage on `curve` where the targets hold, and the bar giving it (the
    lower bar of two that give the same); (None, None) where no bar holds them."""
    best: tuple[float | None, float | None] = (None, None)
    for row in curve:
        figures = [row.get(name) for name in FIGURES]
        if any(f is None for f in figures):
            continue
        coverage, precision, out_silent, missing_silent = figures
        if precision < PRECISION or out_silent < SILENT or missing_silent < SILENT:
            continue
        if best[0] is None or coverage > best[0]:
            best = (coverage, row["min_confidence"])
    return best


def coverage_at_precision(ranked: Sequence[tuple[float, bool]], asked: int) -> float:
    """The share of `asked` messages that can be suggested at precision >= PRECISION:
    `ranked` holds (confidence, right) for each message that could be suggested at all
    (past the similarity floor). A bar cannot part messages of equal confidence, so the
    cut is only made between different confidences."""
    if not asked:
        return 0.0
    ordered = sorted(ranked, key=lambda item: -item[0])
    best = right = 0
    for position, (confidence, is_right) in enumerate(ordered, start=1):
        right += is_right
        last_of_its_confidence = position == len(ordered) or ordered[position][0] < confidence
        if last_of_its_confidence and right >= PRECISION * position - 1e-9:
            best = position
    return round(best / asked, 4)
