"""Splitting a long answer into messages a platform accepts, in reading order."""

from __future__ import annotations

import re

# Where a sentence ends: terminal punctuation (or a line break) followed by white space.
_SENTENCE_END = re.compile(r"(?:[.!?…]+[\"')\]]*|\n)\s+")
_SPACE = re.compile(r"\s+")


def _cut(text: str, limit: int) -> int:
    """Where to end the first part of `text` (longer than `limit`)."""
    window = text[: limit + 1]
    # Prefer the last sentence end that leaves a reasonably full part, then the last
    # space, and only then a hard cut inside a word.
    for pattern in (_SENTENCE_END, _SPACE):
        ends = [m.end() for m in pattern.finditer(window) if m.start() > 0 and m.end() <= limit]
        best = max(ends, default=0)
        if best >= limit // 4:
            return best
    return limit


def split_text(text: str, limit: int | None) -> list[str]:
    """Parts of at most `limit` characters whose concatenation is `text`, cut after a
    sentence where one is near, else after a word. `None`: one part."""
    if limit is None or len(text) <= limit:
        return [text]
    parts = []
    rest = text
    while len(rest) > limit:
        end = _cut(rest, limit)
        parts.append(rest[:end])
        rest = rest[end:]
    if rest:
        parts.append(rest)
    return parts
