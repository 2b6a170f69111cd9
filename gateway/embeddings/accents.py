"""Portuguese accents put back on words typed without them, before a local model reads them.

Customers on WhatsApp write "nao", "voce", "cobranca", "ja"; the models learnt Portuguese
from text that spells them "não", "você", "cobrança", "já". e5-small knows "cobrança" and
"não" as single tokens of its vocabulary but cuts "cobranca" and "nao" into two pieces
each, so a question loses meaning before it is embedded. Every word whose accented
spelling is more common in Portuguese than its typed one gets that spelling back; a word
that is common as typed ("e", "nos", "mas", "pais") keeps it.

The counts are pyspellchecker's Portuguese word frequencies (from OpenSubtitles, MIT
licensed package), read from the installed package: nothing is downloaded. They spell as
Portugal does where Brazil spells otherwise ("eletrónico" for "eletrônico"); those words
get their Brazilian accent, as customers of a business in Brazil write them.

Measured with e5-small on the tuning split of atende's pt-BR evaluation set (eval/pt_br),
sixteen seeds of `atende eval --split dev`: top-1 0.866 -> 0.871, precision at the bar
0.978 -> 0.985, and the coverage reachable at precision 0.95 with both silences at 0.90
0.612 -> 0.657 (0.649 with Portugal's spellings). Correcting typos against the same
counts as well gave no more (0.641) and let more out-of-scope messages through, so it is
not done.
"""

from __future__ import annotations

import gzip
import importlib.resources
import re
import threading

from config.text import fold

# A word of Latin letters only, as it stands in text already lower case and without
# accents ("2fa" and "covid19" are not words here, and keep their letters).
_WORD = re.compile(r"\b[a-z]+\b")
# One entry of the frequency list: `"palavra": 123,` on a line of its own.
_ENTRY = re.compile(r'^"([^"]+)": (\d+),?$', re.MULTILINE)

# pt-PT's open vowel before a nasal consonant and a vowel, which pt-BR closes.
_OPEN_BEFORE_NASAL = re.compile(r"[óé](?=[mn][aeiouáéíóúâêôãõ])")
_CLOSED = {"ó": "ô", "é": "ê"}
# Brazilian words the counts of European Portuguese lack ("kd" is spelt "cade").
_BRAZIL_ONLY = {"cade": "cadê"}

_lock = threading.Lock()
_spellings: dict[str, str] | None = None


def _load_spellings() -> dict[str, str]:
    """Unaccented word -> its most common accented spelling, where that beats the word."""
    resource = importlib.resources.files("spellchecker") / "resources" / "pt.json.gz"
    listing = gzip.decompress(resource.read_bytes()).decode("utf-8")
    # Read entry by entry rather than as one JSON object: the whole list as a dict costs
    # about 100 MB at its peak; this way the process keeps about 30 MB (bench/memory.py).
    accented: dict[str, tuple[int, str]] = {}
    for entry in _ENTRY.finditer(listing):
        word, count = entry[1], int(entry[2])
        if word.isascii():
            continue
        bare = fold(word)
        if _WORD.fullmatch(bare) and count > accented.get(bare, (0, ""))[0]:
            accented[bare] = (count, word)
    # The same words as typed, in a second pass: keeping every plain word's count from
    # the first would hold 300,000 of them for the 31,000 that rival an accented word.
    as_typed = {
        entry[1]: int(entry[2]) for entry in _ENTRY.finditer(listing) if entry[1] in accented
    }
    table = {
        bare: _brazilian(word)
        for bare, (count, word) in accented.items()
        if count > as_typed.get(bare, 0)
    }
    return table | _BRAZIL_ONLY


def _brazilian(word: str) -> str:
    """The pt-BR spelling of a word the counts give in pt-PT: a stressed e or o before m or
    n and a vowel is closed in Brazil, "ê"/"ô" ("eletrônico", "gênero", "prêmio"), open
    in Portugal ("eletrónico"). "também" and "além" end in "-ém" in both."""
    return _OPEN_BEFORE_NASAL.sub(lambda vowel: _CLOSED[vowel[0]], word)


def accent_spellings() -> dict[str, str]:
    """The table `restore_accents` reads, built on first use (about a second)."""
    global _spellings
    if _spellings is not None:  # every text asks; only the first few wait for the lock
        return _spellings
    with _lock:
        if _spellings is None:
            _spellings = _load_spellings()
        return _spellings


def restore_accents(text: str) -> str:
    """`text` (lower case, without accents) with Portuguese words spelt with their accents:
    "nao recebi a cobranca, voce ja viu?" -> "não recebi a cobrança, você já viu?"."""
    spellings = accent_spellings()
    return _WORD.sub(lambda word: spellings.get(word[0], word[0]), text)
