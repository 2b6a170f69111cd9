"""How a customer's text is evened out before a local model embeds it.

Customers type the same question as "Não recebi o BOLETO!!!", "nao recebi o boleto" and
"naaao recebi o boletooo". The local models see those as different texts, and a
question written one way finds its validated twin written the other way less often.
Measured with e5-small on the tuning split of atende's pt-BR evaluation set
(eval/pt_br), nearest-answer vote over 10 neighbours: folding case alone lifted top-1
from 0.68 to 0.75, dropping Latin accents and repeated letters too to 0.76. English
(Bitext's tuning half) moved from 0.94 to 0.95.

Common chat abbreviations of Brazilian Portuguese ("vc", "pq", "hj", "msg") may be
spelt out too (`expand_abbreviations`). Under ten voters that cost top-1 (0.74 against
0.76); under the answer model that now orders the answers it gained: eight dev seeds of
`atende eval eval/pt_br/atende_pt_br.jsonl --split dev` gave top-1 0.861 -> 0.869 and
precision at the bar 0.976 -> 0.983 at about the same coverage (0.599 -> 0.597).
The list holds only what customers type for a word; "to" and "ta" (tô, tá) are left
out because English uses both. Bitext's figures did not move.

Portuguese accents may then be put back (`accents`, gateway.embeddings.accents): every
text loses its accents first, so that "Não" and "nao" become one text, then gets the
common spelling back, "não", which is what the models learnt Portuguese from.

Only Latin letters lose their accents: a combining mark that belongs to another script
(a Japanese voicing mark, say) is part of the letter, not an accent.
"""

from __future__ import annotations

import re
import unicodedata

from gateway.embeddings.accents import restore_accents

# Three or more of one letter or mark become two ("naaao" -> "naao", "???" -> "??"):
# two keeps "cc", "rr", "ss", which Portuguese spells with, apart from one.
_REPEATS = re.compile(r"(.)\1{2,}")
_LATIN_BASE = re.compile(r"[a-z]")


# Spelt-out forms carry no accents, as the text they land in has lost its own by then.
PT_BR_ABBREVIATIONS = {
    "agr": "agora",
    "aki": "aqui",
    "blz": "beleza",
    "cel": "celular",
    "cmg": "comigo",
    "dnv": "de novo",
    "dps": "depois",
    "hj": "hoje",
    "kd": "cade",
    "msg": "mensagem",
    "msm": "mesmo",
    "mt": "muito",
    "mto": "muito",
    "mts": "muitos",
    "n": "nao",
    "nd": "nada",
    "ngm": "ninguem",
    "obg": "obrigado",
    "obgd": "obrigado",
    "oq": "o que",
    "pf": "por favor",
    "pfv": "por favor",
    "pfvr": "por favor",
    "pq": "porque",
    "pra": "para",
    "q": "que",
    "qdo": "quando",
    "qnd": "quando",
    "qndo": "quando",
    "qq": "qualquer",
    "qqr": "qualquer",
    "qto": "quanto",
    "tb": "tambem",
    "tbm": "tambem",
    "td": "tudo",
    "tds": "todos",
    "tmb": "tambem",
    "vc": "voce",
    "vcs": "voces",
    "vdd": "verdade",
    "vlr": "valor",
    "vlw": "valeu",
}
_ABBREVIATION = re.compile(r"\b(?:" + "|".join(PT_BR_ABBREVIATIONS) + r")\b")
# "p/ voce", "p/voce": "para" ("p/" is the only abbreviation with a mark in it). A bare
# "p" is left alone: a store's customers also write it for the size ("troco o P pelo M?").
_P_SLASH = re.compile(r"\bp/\s*")


def normalise_text(text: str, *, abbreviations: bool = False, accents: bool = False) -> str:
    """Lower case, Latin letters without accents, long repeats shortened, spaces single;
    with `abbreviations`, pt-BR chat abbreviations spelt out (PT_BR_ABBREVIATIONS); with
    `accents`, Portuguese words then spelt with their accents (gateway.embeddings.accents),
    so that "Nao", "NÃO" and "naaao" all read "não"."""
    decomposed = unicodedata.normalize("NFD", text.lower())
    kept: list[str] = []
    for char in decomposed:
        if unicodedata.category(char) == "Mn" and kept and _LATIN_BASE.match(kept[-1]):
            continue
        kept.append(char)
    text = unicodedata.normalize("NFC", "".join(kept))
    text = _REPEATS.sub(r"\1\1", text)
    if abbreviations:
        text = expand_abbreviations(text)
    if accents:
        text = restore_accents(text)
    return " ".join(text.split())


def expand_abbreviations(text: str) -> str:
    """`text` (already lower case, without accents) with every whole word that is a pt-BR
    chat abbreviation spelt out: "vc pode ver p/ mim?" -> "voce pode ver para mim?"."""
    text = _P_SLASH.sub("para ", text)
    return _ABBREVIATION.sub(lambda word: PT_BR_ABBREVIATIONS[word[0]], text)
