"""Comparing words as people write them: one fold for keywords, sector names and answers."""

from __future__ import annotations

import unicodedata


def fold(text: str) -> str:
    """Lower case without accents, so 'Cobrança' matches the keyword 'cobranca'."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))
