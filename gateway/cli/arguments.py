"""Argument types shared by the command line's commands: numbers within bounds."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def bounded(
    cast: Callable[[str], float],
    low: float,
    high: float,
    *,
    above: bool = False,
    below: bool = False,
) -> Callable[[str], float]:
    """An argparse type: `cast` of the text, in [low, high]; `above`/`below` leave the
    bound itself out. Its errors say what was given and what is allowed."""
    kind = "a whole number" if cast is int else "a number"

    def show(value: float) -> str:
        return str(int(value)) if cast is int else f"{value:g}"

    shown = f"{'(' if above else '['}{show(low)}, {show(high)}{')' if below else ']'}"

    def parse(text: str) -> float:
        try:
            value = cast(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {kind}") from None
        if value < low or value > high or (above and value == low) or (below and value == high):
            raise argparse.ArgumentTypeError(f"{show(value)} is not in {shown}")
        return value

    return parse
