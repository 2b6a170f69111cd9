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

The words also vote (`word_vote`). "Quero cancelar meu pedido" shares "pedido" with
half the store's answers, so its weight above is small, and where only the
subscription's cancellation is answered, that answer wins with the one word it shares.
Counted over messages, though, "pedido" is one of the likeliest words of a question and
none of the subscription's messages says it. So the lexicon keeps how many of each
answer's texts hold each word, and weighs the first answers the confidence compares as
a naive Bayes over words present in the question would: each answer's chance of each
of the question's words against the whole history's, smoothed towards it, multiplied.
The winner's share of that vote is the words' opinion of it, and the confidence
multiplies its odds by it (WORD_VOTE_WEIGHT).

How much a right answer's share is depends on the history: where operators wrote one
intent's answer many ways, each with a message or two, the first five answers are often
five wordings of one, and even the right one holds a fifth of the vote. So calibrating
also asks each validated message of the rest of the history, among the first answers
the simulated suggestion ordered (simulation.simulate_history), and keeps the median
vote of its own answer where that came first (`typical_vote`); the confidence reads only
how far below it a winner's vote falls. On histories of one answer per intent that is
about 0 and changes nothing.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from gateway.embeddings.normalise import normalise_text
from storage.reviews import answer_key

STEM = 5
MIN_LETTERS = 3
# How many of the first answers (the answer model's order) the words vote among.
VOTERS = 5
# How far an answer's chance of a word is pulled towards the history's: as one text more.
SMOOTHING = 1.0
# What each unit of Evidence.unmatched takes off the logistic's sum. The simulated history
# cannot teach it: fitted there with the other seven it weighs about 0 (-0.9 to 0.7 over
# eight pt-BR splits), likely because a simulated question, asked under a projection
# learnt with it, sits nearer its answer than a new one does (closeness of right answers
# about +0.001 simulated, -0.007 for `dev` questions) and the vote's own features part
# them there already. Fitted on the `dev` questions beside the others, it weighs two thirds
# as much as closeness, against. So it is chosen on `dev`: weights 1 to 8 tried offline over
# sixteen splits, 3 raised both figures together the most. `atende eval --split dev`:
# the coverage reachable at precision 0.95 with both silences at 0.90 from 0.646 to
# 0.669 and from 0.667 to 0.681 (seeds 13, 1-7 and 8-12, 14-16), the in-scope coverage at
# precision 0.95 from 0.786 to 0.795 and from 0.779 to 0.816.
UNMATCHED_WEIGHT = 3.0
# What the log of the winner's share of the words' vote adds to the logistic's sum: 1
# multiplies the confidence's odds by that share, as two independent opinions combine.
# Offline on the per-question results of `atende eval --split dev` (seeds 13, 1-7), each
# weight at its own bar by CLOSENESS_BAR's rule gave coverage 0.658 (weight 0.3), 0.674
# (0.6, missing intents silent 0.911, at the rule's edge; 0.909 on seeds 8-12, 14-16),
# 0.660 (1) and 0.663 (1.5); 1 keeps the silences with room on both sets of seeds.
WORD_VOTE_WEIGHT = 1.0
# The bar of a model that reads the words, by CLOSENESS_BAR's rule on eight `dev` splits
# (seeds 13, 1-7): coverage 0.659, precision 0.985, silent 0.940 / 0.920 (at 0.2, missing
# intents silent 0.909). The vote takes the odds of most wrong answers down, so a lower
# bar keeps the silences. Before the words voted the rule gave 0.5: coverage 0.627,
# precision 0.982, silent 0.946 / 0.911 (at 0.45, missing intents silent 0.904).
WORDS_BAR = 0.25


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


def _profile(texts: Iterable[str]) -> tuple[Counter[str], int]:
    """How many of `texts` hold each word, and how many texts there are."""
    counts: Counter[str] = Counter()
    total = 0
    for text in texts:
        counts.update(stems(text))
        total += 1
    return counts, total


def _vote(
    words: Iterable[str],
    profiles: Sequence[tuple[Mapping[str, int], int]],
    held: Mapping[str, int],
    total: int,
    *,
    less: int = 0,
) -> float:
    """The log of the first answer's share of the vote of `words` among `profiles` (each
    answer's count of texts holding each word, and its number of texts), each word's
    chance read against `held` of the history's `total` texts. `less` of the first's
    texts, each holding all of `words`, are left out: a validated message (and its copies)
    asked of the rest of the history."""
    known = [w for w in words if held.get(w, 0) > less]
    scores = []
    for position, (counts, count) in enumerate(profiles):
        out = less if position == 0 else 0
        score = 0.0
        for word in known:
            general = (held[word] - less) / (total - less)
            chance = (counts.get(word, 0) - out + SMOOTHING * general) / (count - out + SMOOTHING)
            score += math.log(chance / general)
        scores.append(score)
    top = max(scores)
    return scores[0] - top - math.log(sum(math.exp(s - top) for s in scores))


@dataclass(frozen=True)
class Lexicon:
    """The words each answer (by answer_key) was asked with, and each word's weight."""

    weights: dict[str, float]  # every word some answers are asked with, not all
    # Answer key -> how many of its texts (its messages and its own) hold each word.
    words: dict[str, dict[str, int]] = field(repr=False)
    # The mean `unmatched` of each validated message against the rest of its answer's:
    # what a new phrasing of a known question says that its answer was never asked with.
    typical: float = 0.0
    # Answer key -> how many texts it has; empty in a lexicon stored before the words
    # voted, which then cast no vote.
    texts: dict[str, int] = field(default_factory=dict, repr=False)
    # The median vote of a validated message's own answer where it came first, asked of the
    # rest of the history: the vote reads only how far below that a winner's falls.
    typical_vote: float = 0.0

    @cached_property
    def _background(self) -> tuple[Counter[str], int]:
        """How many of all the history's texts hold each word, and how many there are."""
        held: Counter[str] = Counter()
        for counts in self.words.values():
            held.update(counts)
        return held, sum(self.texts.values())

    def read(
        self, text: str, keys: Sequence[str], asked: Mapping[str, Iterable[str]]
    ) -> tuple[float, float | None]:
        """What the confidence reads of the first of `keys` (the winner) for `text`, its
        words taken once: `unmatched` less `typical`, and `word_vote` (below its typical)."""
        words = stems(text)
        unmatched = self._unmatched(words, keys[0], asked.get(keys[0], ()))
        return unmatched - self.typical, self._word_vote(words, keys, asked)

    def word_vote(
        self, text: str, keys: Sequence[str], asked: Mapping[str, Iterable[str]]
    ) -> float | None:
        """The log of the first of `keys`' share of the words' vote among them, less the
        typical vote and at most 0; None when the lexicon keeps no counts. An answer
        validated since the lexicon was learnt is read from `asked[key]`: the texts of its
        messages at hand and its own."""
        return self._word_vote(stems(text), keys, asked)

    def _word_vote(
        self, words: set[str], keys: Sequence[str], asked: Mapping[str, Iterable[str]]
    ) -> float | None:
        held, total = self._background
        if not self.texts or total == 0:
            return None
        profiles = [
            (self.words[k], self.texts[k]) if k in self.texts else _profile(asked.get(k, ()))
            for k in keys
        ]
        return min(0.0, _vote(words, profiles, held, total) - self.typical_vote)

    def unmatched(self, text: str, key: str, asked: Iterable[str] = ()) -> float:
        """The share of what `text` says (its words the history knows, each by its
        weight) that the answer `key` was never asked with. An answer validated since the
        lexicon was learnt is read from `asked`: the texts of its messages at hand (the
        voters) and its own."""
        return self._unmatched(stems(text), key, asked)

    def _unmatched(self, words: set[str], key: str, asked: Iterable[str]) -> float:
        own: Mapping[str, int] | None = self.words.get(key)
        if own is None:
            own = _profile(asked)[0]
        known = [w for w in words if w in self.weights]
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
            # The counts in the order of "answers" (absent before the words voted: 1 each).
            "counts": {
                k: [ws[w] for w in sorted(ws, key=position.get)] for k, ws in self.words.items()
            },
            "texts": self.texts,
            "typical": self.typical,
            "typical_vote": self.typical_vote,
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Lexicon:
        vocabulary = [str(w) for w in value["vocabulary"]]
        counts = value.get("counts") or {}
        try:
            words = {
                str(k): {
                    vocabulary[int(i)]: int(n)
                    for i, n in zip(positions, counts.get(k, [1] * len(positions)), strict=True)
                }
                for k, positions in value["answers"].items()
            }
        except IndexError:
            raise ValueError("a lexicon's answer names a word its vocabulary lacks") from None
        except ValueError:
            raise ValueError("a lexicon's counts do not match its answers' words") from None
        texts = {str(k): int(n) for k, n in (value.get("texts") or {}).items()}
        if any(n < 1 for n in texts.values()) or any(
            n > texts.get(k, n) for k, ws in words.items() for n in ws.values()
        ):
            raise ValueError("a lexicon counts each word in at most all of its answer's texts")
        weights = {str(w): float(v) for w, v in value["weights"].items()}
        if any(not 0.0 <= v <= 1.0 for v in weights.values()):
            raise ValueError("a lexicon's word weights are in [0, 1]")
        typical = float(value.get("typical", 0.0))
        if not 0.0 <= typical <= 1.0:
            raise ValueError("a lexicon's typical share is in [0, 1]")
        typical_vote = float(value.get("typical_vote", 0.0))
        if typical_vote > 0.0:
            raise ValueError("a lexicon's typical vote is the log of a share, at most 0")
        return cls(
            weights=weights, words=words, typical=typical, texts=texts, typical_vote=typical_vote
        )


def fit_lexicon(
    messages: Sequence[str],
    answers: Sequence[str],
    orders: Mapping[int, Sequence[str]] | None = None,
) -> Lexicon:
    """The lexicon of a validated history: its `messages` (texts) and their `answers`;
    `orders`: for messages whose own answer came first when asked of the rest, the first
    answers' keys (simulation.simulate_history), from which the typical vote is read."""
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
    lexicon = Lexicon(
        weights={w: v for w, v in weights.items() if v > 0.0},
        words={k: dict(c) for k, c in counts.items()},
        typical=sum(shares) / len(shares) if shares else 0.0,
        texts={key: 1 + n for key, n in Counter(keys).items()},  # its messages and its own
    )
    if not orders:
        return lexicon
    held, total = lexicon._background
    votes = sorted(
        _vote(
            asked[row],
            [(lexicon.words[k], lexicon.texts[k]) for k in order],
            held,
            total,
            less=copies[keys[row], texts[row]],
        )
        for row, order in orders.items()
    )
    return replace(lexicon, typical_vote=votes[len(votes) // 2])
