"""Which words each validated answer is asked with: what a question says that its
suggested answer has never been asked about.

Embeddings place "quero cancelar minha assinatura" near "quero cancelar meu pedido": the
verb and the shape of the sentence agree, and only one word differs. Where the history
answers only the second, the nearest answer is the wrong one, and it is sure of itself.
What gives it away is a word: "assinatura" is a word this history knows (other answers
are asked about it), but no customer ever asked the winning answer with it, and its own
text does not say it either.

So for every answer the lexicon keeps the words of its validated messages and of its own
text, and `unmatched` is the share of the question's words the history knows, each
weighed by its inverse document frequency over the answers (scaled to [0, 1]: a word
every answer is asked with weighs 0, one only one answer is asked with 1), that the
answer was never asked with. A new phrasing of a known question has some too (customers
word things their own way), so the confidence reads it less `typical`: the mean share of
each validated message against the rest of its answer's. Words are compared as customers
type them: lower case, no accents, chat abbreviations spelt out
(gateway.embeddings.normalise), the first five letters of each word of three letters or
more, so "cancelar", "cancelei" and "cancelamento" meet.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from gateway.embeddings.normalise import normalise_text
from storage.reviews import answer_key

STEM = 5
MIN_LETTERS = 3
_WORD = re.compile(r"[a-z]+")


def stems(text: str) -> set[str]:
    """The words of `text` as the lexicon compares them."""
    words = _WORD.findall(normalise_text(text, abbreviations=True))
    return {w[:STEM] for w in words if len(w) >= MIN_LETTERS}


def _weight(answers: int, asked_with: int) -> float:
    """A word's inverse document frequency over `answers`, scaled to [0, 1]."""
    if answers < 2 or asked_with <= 0:
        return 0.0
    return math.log(answers / asked_with) / math.log(answers)


def _share(weights: Sequence[float], unasked: Sequence[bool]) -> float:
    """The part of the `weights` whose word the answer was never asked with."""
    total = sum(weights)
    if total <= 0.0:
        return 0.0
    return sum(w for w, u in zip(weights, unasked, strict=True) if u) / total


@dataclass(frozen=True)
class Lexicon:
    """The words each answer (by answer_key) was asked with, and each word's weight."""

    weights: dict[str, float]  # every word some answers are asked with, not all
    words: dict[str, frozenset[str]] = field(repr=False)  # answer key -> its words
    # The mean `unmatched` of each validated message against the rest of its answer's:
    # what a new phrasing of a known question says that its answer was never asked with.
    typical: float = 0.0

    def unmatched(self, text: str, key: str, asked: Iterable[str] = ()) -> float:
        """The share of what `text` says (its words the history knows, each by its
        weight) that the answer `key` was never asked with. An answer validated since the
        lexicon was learnt is read from `asked`: the texts of its messages at hand (the
        voters) and its own."""
        own = self.words.get(key)
        if own is None:
            own = frozenset().union(*(stems(t) for t in asked))
        known = [w for w in stems(text) if w in self.weights]
        return _share([self.weights[w] for w in known], [w not in own for w in known])

    def summary(self) -> dict[str, int]:
        return {"answers": len(self.words), "words": len(self.weights)}

    def as_json(self) -> dict[str, Any]:
        # Each answer's words as positions in one sorted list of the words.
        vocabulary = sorted({w for words in self.words.values() for w in words})
        position = {w: i for i, w in enumerate(vocabulary)}
        return {
            "vocabulary": vocabulary,
            "weights": dict(sorted(self.weights.items())),
            "answers": {k: sorted(position[w] for w in ws) for k, ws in self.words.items()},
            "typical": self.typical,
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Lexicon:
        vocabulary = [str(w) for w in value["vocabulary"]]
        try:
            words = {
                str(k): frozenset(vocabulary[int(i)] for i in positions)
                for k, positions in value["answers"].items()
            }
        except IndexError:
            raise ValueError("a lexicon's answer names a word its vocabulary lacks") from None
        weights = {str(w): float(v) for w, v in value["weights"].items()}
        if any(not 0.0 <= v <= 1.0 for v in weights.values()):
            raise ValueError("a lexicon's word weights are in [0, 1]")
        typical = float(value.get("typical", 0.0))
        if not 0.0 <= typical <= 1.0:
            raise ValueError("a lexicon's typical share is in [0, 1]")
        return cls(weights=weights, words=words, typical=typical)


def fit_lexicon(messages: Sequence[str], answers: Sequence[str]) -> Lexicon:
    """The lexicon of a validated history: its `messages` (texts) and their `answers`."""
    keys = [answer_key(a) for a in answers]
    asked = [stems(m) for m in messages]
    # How many of each answer's texts (its own and its messages') hold each word.
    counts: dict[str, Counter[str]] = {}
    for key, answer in zip(keys, answers, strict=True):
        if key not in counts:
            counts[key] = Counter(stems(answer))
    for key, words in zip(keys, asked, strict=True):
        counts[key].update(words)
    asked_with = Counter(w for c in counts.values() for w in c)
    weights = {w: _weight(len(counts), n) for w, n in asked_with.items()}
    # Each message asked of the rest: its answer without it and its copies of the same text.
    texts = [normalise_text(m) for m in messages]
    copies = Counter(zip(keys, texts, strict=True))
    shares = []
    for key, text, words in zip(keys, texts, asked, strict=True):
        known, unasked = [], []
        for word in words:
            left = counts[key][word] - copies[key, text]
            weight = _weight(len(counts), asked_with[word] - (left == 0))
            if weight > 0.0:
                known.append(weight)
                unasked.append(left == 0)
        shares.append(_share(known, unasked))
    return Lexicon(
        weights={w: v for w, v in weights.items() if v > 0.0},
        words={k: frozenset(c) for k, c in counts.items()},
        typical=sum(shares) / len(shares) if shares else 0.0,
    )
