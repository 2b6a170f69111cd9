"""How a customer's text is evened out before a local model embeds it.

Customers type the same question as "Não recebi o BOLETO!!!", "nao recebi o boleto" and
"naaao recebi o boletooo". The local models see those as different texts, and a
question written one way finds its validated twin written the other way less often.
Measured with e5-small on the tuning split of atende's pt-BR evaluation set
(eval/pt_br), nearest-answer vote over 10 neighbours: folding case alone lifted top-1
from 0.68 to 0.75, dropping Latin accents and repeated letters too to 0.76; expanding
abbreviations ("vc", "pq") as well gave 0.74, so it is not done. English (Bitext's
tuning half) moved from 0.94 to 0.95.

Only Latin letters lose their accents: a combining mark that belongs to another script
(a Japanese voicing mark, say) is part of the letter, not an accent.
"""

from __future__ import annotations

import re
import unicodedata

# Three or more of one letter or mark become two ("naaao" -> "naao", "???" -> "??"):
# two keeps "cc", "rr", "ss", which Portuguese spells with, apart from one.
_REPEATS = re.compile(r"(.)\1{2,}")
_LATIN_BASE = re.compile(r"[a-z]")


def normalise_text(text: str) -> str:
    """Lower case, Latin letters without accents, long repeats shortened, spaces single."""
    decomposed = unicodedata.normalize("NFD", text.lower())
    kept: list[str] = []
    for char in decomposed:
        if unicodedata.category(char) == "Mn" and kept and _LATIN_BASE.match(kept[-1]):
            continue
        kept.append(char)
    text = unicodedata.normalize("NFC", "".join(kept))
    return " ".join(_REPEATS.sub(r"\1\1", text).split())
