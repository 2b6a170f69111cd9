"""Which validated answer a message asks for, learnt from the whole history: a ridge
regression in the projection's space (gateway.services.projection).

The voters (gateway.services.confidence) see only the nearest thirty messages, and an
intent whose phrasings are spread out loses to one that happens to have a single phrasing
nearby. A linear model fitted on every validated message weighs all the phrasings of
each answer, and learns which directions tell two answers apart. It does not replace the
voters: they still say which answers are near enough to be candidates and what the
confidence reads; the model orders those candidates, and its score and lead over the
runner-up are two more things the confidence reads.

Ridge regression (least squares from a message to its answer's indicator, with a penalty
RIDGE on the weights and none on the intercept) has a closed form, and so do its
predictions for messages left out of its own fit: that is how the confidence model learns,
from the history alone, what a score means for a message the model has not seen, and for
one whose answer it has never seen (`AnswerFit.held_out`).

Measured on the tuning split of eval/pt_br (e5-small, eight splits of the history, each
with its confidence model fitted this way): answer top-1 0.814 -> 0.839, hit@3 0.926 ->
0.950, and the coverage reachable at precision 0.95 with 0.90 of unanswerable messages
silent 0.535 -> 0.592. Ridge 0.3 and 3 did worse (top-1 0.830, 0.828); 1 is kept.

Each answer's own text (Embedder.embed_answers: for e5, the "passage: " side a question
searches for) is one more example of it: an answer names what it answers ("segunda via",
"boleto") where seven customers' phrasings may not. Simulated as above: top-1 0.836 ->
0.850; `atende eval --split dev`, eight seeds: 0.839 -> 0.854, coverage 0.611 -> 0.620.
Only answers given at least twice get one (those keep a column, see below).

A question's similarity to an answer's own text also adds to that answer's score:
TEXT_WEIGHT times the cosine of the unprojected question and text, less the mean of that
cosine over every answer's text (AnswerModel.text_rows). The regression weighs the text as
one example among the answer's messages, where e5 built its "query: " and "passage: "
sides to be compared directly. Centred, an answer with no text of its own (given once)
counts as an average one. `atende eval --split dev`, eight seeds (13, 1-7), against the
model without it: top-1 0.852 -> 0.861, hit@3 0.954 -> 0.959, precision at the bar 0.971
-> 0.976 for coverage 0.600 -> 0.599; a weight of 0.25 did less (0.854), 1 as much for
coverage 0.585.

How near an answer's own messages are to one another is kept too (`AnswerFit.typical`):
the mean, over its messages, of each one's similarity to its nearest other phrasing of
it. A question as near the winning answer's messages as they are to each other reads as
one more of them; one much further off, though it is the nearest answer, more often asks
something nothing validated answers. The confidence reads the difference
(Evidence.closeness). Measured with `atende eval --split dev` on the tuning split of
eval/pt_br: the coverage reachable at precision 0.95 with 0.90 of missing intents and of
out-of-scope messages silent went from 0.585 to 0.623 a split (seeds 1-8, at any bar;
0.574 to 0.619 over seeds 1-16, at bars in steps of 0.05). The median instead of the mean
did less (0.607, seeds 1-8).

The scores are what the regression predicts: x . (M s), where M inverts the penalised
second moments and s sums one answer's rows. M s is stored for every answer given at
least twice; an answer given once (or first validated after the fit) is scored from its
rows among the voters, which is exact when all of them are there.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from itertools import pairwise
from typing import TYPE_CHECKING, Any

import numpy as np
import structlog

from storage.reviews import answer_digest, answer_key
from storage.vectors import matrix_from_text, matrix_text

if TYPE_CHECKING:
    from gateway.embeddings.base import Embedder
    from storage.answer_vectors import AnswerVectorRepository

log = structlog.get_logger(__name__)

RIDGE = 1.0
# How much the similarity of a question to an answer's own text adds to that answer's
# score (AnswerModel.text_rows); 0 turns it off. See the module's docstring.
TEXT_WEIGHT = 0.5
# With fewer validated messages the confidence model's six weights are fitted on too few
# simulated questions and separate them outright: on 29 messages (58 questions) a right
# paraphrase read 0.09, against 0.25 with the votes' four weights alone.
MIN_MESSAGES = 100
SAME_TEXT = 0.9999  # similarity of two messages that embed the same (the same text)


def stored_keys(keys: Sequence[str]) -> set[str]:
    """The answers that keep a column: those given at least twice. One given once is
    scored from its message among the voters, which is exact, so it needs no column,
    and no text (`AnswerFit`)."""
    return {key for key, count in Counter(keys).items() if count > 1}


def _design(projected: np.ndarray) -> np.ndarray:
    rows = np.atleast_2d(np.asarray(projected, dtype=np.float64))
    return np.hstack([rows, np.ones((len(rows), 1))])


@dataclass(frozen=True)
class AnswerModel:
    """What scoring needs: M, and M s for each answer given at least twice."""

    inverse: np.ndarray = field(repr=False)  # (dim + 1) x (dim + 1)
    columns: np.ndarray = field(repr=False)  # one row per answer in `digests`
    digests: tuple[str, ...]
    examples: int
    texts: int = 0  # answers whose own text was an example too
    ridge: float = RIDGE
    # Each stored answer's typical similarity between its messages (AnswerFit.typical),
    # and the history's, for every other answer; None in a model stored before them.
    typicals: tuple[float, ...] | None = None
    history_typical: float | None = None
    # Each stored answer's own text, unprojected, less the mean of them all (zeros where
    # an answer has none); None in a model stored before them or fitted without texts.
    text_rows: np.ndarray | None = field(default=None, repr=False)
    text_weight: float = 0.0

    @cached_property
    def _row_of(self) -> dict[str, int]:
        return {d: i for i, d in enumerate(self.digests)}

    @property
    def dim(self) -> int:
        return int(self.inverse.shape[0]) - 1

    def scores(
        self,
        query: np.ndarray,
        pool: Mapping[str, np.ndarray],
        raw: np.ndarray | None = None,
    ) -> dict[str, float]:
        """Each answer's score for `query` (projected); `pool` holds, by answer_key, the
        projected rows of that answer among the voters (used for an answer with no stored
        column). With the unprojected query (`raw`), each answer's own text adds its part
        (`text_rows`; none for an answer that keeps no column, as for an average one)."""
        x = _design(query)[0]
        texts = self.text_rows if raw is not None and self.text_weight else None
        out = {}
        for key, rows in pool.items():
            row = self._row_of.get(answer_digest(key))
            if row is not None:
                out[key] = float(self.columns[row] @ x)
                if texts is not None:
                    # Only the candidates' rows: a knowledge base may hold thousands.
                    out[key] += self.text_weight * float(texts[row] @ raw)
            else:
                out[key] = float(x @ self.inverse @ _design(rows).sum(axis=0))
        return out

    def typical_of(self, key: str) -> float | None:
        """How near the messages of the answer `key` are to one another (the history's
        typical for an answer that keeps no column); None for a model without them."""
        if self.typicals is None or self.history_typical is None:
            return None
        row = self._row_of.get(answer_digest(key))
        return self.history_typical if row is None else self.typicals[row]

    def summary(self) -> dict[str, Any]:
        return {
            "answers": len(self.digests),
            "examples": self.examples,
            "texts": self.texts,
            "ridge": self.ridge,
            "text_weight": self.text_weight,
        }

    def as_json(self) -> dict[str, Any]:
        return {
            **self.summary(),
            "dim": self.dim,
            "digests": list(self.digests),
            "inverse": matrix_text(self.inverse),
            "columns": matrix_text(self.columns),
            "typicals": list(self.typicals) if self.typicals is not None else None,
            "history_typical": self.history_typical,
            "text_rows": matrix_text(self.text_rows) if self.text_rows is not None else None,
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> AnswerModel:
        size = int(value["dim"]) + 1
        digests = tuple(str(d) for d in value["digests"])
        if size <= 1:
            raise ValueError("an answer model needs a dimension")
        inverse = matrix_from_text(value["inverse"], (size, size), "an answer model's inverse")
        columns = matrix_from_text(
            value["columns"], (len(digests), size), "an answer model's columns"
        )
        typicals, typical = value.get("typicals"), value.get("history_typical")
        if typicals is not None and (len(typicals) != len(digests) or typical is None):
            raise ValueError("an answer model's typicals need one per answer, and the history's")
        text_rows = None
        if value.get("text_rows") is not None:
            text_rows = matrix_from_text(
                value["text_rows"], (len(digests), size - 1), "an answer model's text rows"
            )
        return cls(
            inverse=inverse,
            columns=columns,
            digests=digests,
            examples=int(value.get("examples", 0)),
            texts=int(value.get("texts", 0)),
            ridge=float(value.get("ridge", RIDGE)),
            typicals=tuple(float(t) for t in typicals) if typicals is not None else None,
            history_typical=float(typical) if typicals is not None else None,
            text_rows=text_rows,
            text_weight=float(value.get("text_weight", 0.0)) if text_rows is not None else 0.0,
        )


class AnswerFit:
    """The regression fitted on projected history rows, with what held-out predictions need.

    `texts` holds answers' own vectors (projected), by answer_key: each that keeps a column
    is one more example of its answer, after the messages' rows. `raw_texts` holds the
    same unprojected: a question's similarity to them adds to the scores (`text_scores`)."""

    def __init__(
        self,
        projected: np.ndarray,
        keys: Sequence[str],
        *,
        texts: Mapping[str, np.ndarray] | None = None,
        raw_texts: Mapping[str, Sequence[float]] | None = None,
        ridge: float = RIDGE,
        text_weight: float = TEXT_WEIGHT,
    ):
        self.messages = len(keys)
        self.stored = stored_keys(keys)
        told = [key for key in sorted(texts or {}) if key in self.stored]
        rows = np.atleast_2d(np.asarray(projected, dtype=np.float64))
        if texts and told:
            rows = np.vstack([rows, np.asarray([texts[k] for k in told], dtype=np.float64)])
        self.design = _design(rows)
        self.texts = len(told)
        self.classes = sorted(set(keys))
        self.index = {key: i for i, key in enumerate(self.classes)}
        self.labels = np.array([self.index[k] for k in [*keys, *told]], dtype=np.int64)
        self.ridge = ridge
        size = self.design.shape[1]
        penalty = ridge * np.eye(size)
        penalty[-1, -1] = 0.0  # the intercept is not pulled towards zero
        self.inverse = np.linalg.inv(self.design.T @ self.design + penalty)
        sums = np.zeros((len(self.classes), size))
        np.add.at(sums, self.labels, self.design)
        self.weights = self.inverse @ sums.T  # (size, classes)
        self._held_out: dict[tuple[int, ...], np.ndarray] = {}
        self._siblings(np.atleast_2d(np.asarray(projected, dtype=np.float64)))
        self.text_weight = text_weight
        self.text_rows = self._centred_texts(raw_texts or {})

    def _centred_texts(self, raw: Mapping[str, Sequence[float]]) -> np.ndarray | None:
        """One row per answer (`classes`): its own text, less the mean of every answer's
        that keeps a column; zeros for the others. Centred, an answer with no text counts
        as an average one, and a question near every answer's text (any question of this
        business) is not lifted above the bar by it."""
        told = [key for key in sorted(raw) if key in self.stored]
        if not told or not self.text_weight:
            return None
        vectors = np.asarray([raw[k] for k in told], dtype=np.float64)
        rows = np.zeros((len(self.classes), vectors.shape[1]))
        rows[[self.index[k] for k in told]] = vectors - vectors.mean(axis=0)
        return rows

    def text_scores(self, raw_query: np.ndarray) -> np.ndarray | None:
        """What each answer's own text adds to its score (`classes` order) for one
        unprojected question, as AnswerModel.scores adds it; None without texts."""
        if self.text_rows is None:
            return None
        return self.text_weight * (self.text_rows @ np.asarray(raw_query, dtype=np.float64))

    def _siblings(self, messages: np.ndarray) -> None:
        """Each message's similarity to its nearest and second nearest other message of
        its answer (-inf where there is none), and which the nearest is. Copies of its
        own text do not count: a question asked again word for word says nothing of how
        near a new phrasing comes (as in simulation.simulate_history)."""
        count = len(messages)
        self._nearest = np.full(count, -np.inf)
        self._second = np.full(count, -np.inf)
        self._nearest_row = np.full(count, -1)
        labels = self.labels[:count]
        order = np.argsort(labels, kind="stable")
        starts = np.searchsorted(labels[order], np.arange(len(self.classes) + 1))
        self._members = [order[a:b] for a, b in pairwise(starts)]
        for rows in self._members:
            if len(rows) < 2:
                continue
            near = messages[rows] @ messages[rows].T
            near[near >= SAME_TEXT] = -np.inf  # itself and its copies
            best = np.argsort(-near, axis=1)[:, :2]
            picked = np.take_along_axis(near, best, axis=1)
            self._nearest[rows] = picked[:, 0]
            self._second[rows] = picked[:, 1]
            self._nearest_row[rows] = rows[best[:, 0]]
        found = self._nearest[np.isfinite(self._nearest)]
        # An answer whose messages show no such nearness (given once, or only as copies
        # of one text) reads the history's.
        self.history_typical = float(found.mean()) if len(found) else None

    def typical(self, key: str, *, without: int | None = None) -> float | None:
        """How near the messages of answer `key` are to one another: the mean of each
        one's similarity to its nearest other message of it; the history's where it has
        no two such. `without`: as if that message (one of them) had not been validated."""
        rows = self._members[self.index[key]]
        nearest = self._nearest[rows]
        if without is not None:
            others = rows != without
            # The messages whose nearest was `without` fall back on their second nearest.
            lost = self._nearest_row[rows] == without
            nearest = np.where(lost, self._second[rows], nearest)[others]
        nearest = nearest[np.isfinite(nearest)]
        return float(nearest.mean()) if len(nearest) else self.history_typical

    def rows_of(self, key: str) -> np.ndarray:
        """Every row of one answer, its text's among them: what a missing intent hides."""
        return np.flatnonzero(self.labels == self.index[key])

    def held_out(self, rows: Sequence[int]) -> np.ndarray:
        """Every answer's score for each of `rows`, from the fit without all of `rows`
        (exact: (I - H)^-1 (F - H Y) over the block, H the hat matrix)."""
        x = self.design[list(rows)]
        hat = x @ self.inverse @ x.T
        fitted = x @ self.weights
        indicator = np.zeros_like(fitted)
        indicator[np.arange(len(rows)), self.labels[list(rows)]] = 1.0
        return np.linalg.solve(np.eye(len(rows)) - hat, fitted - hat @ indicator)

    def held_out_row(self, row: int, block: np.ndarray) -> np.ndarray:
        """Every answer's score for `row` from the fit without the sorted rows of `block`
        (`row` among them). Every row of a block is asked in turn, so a block is solved
        once: an answer's rows, or the copies of one text."""
        key = tuple(block.tolist())
        if key not in self._held_out:
            self._held_out[key] = self.held_out(block)
        return self._held_out[key][int(np.searchsorted(block, row))]

    def model(self) -> AnswerModel:
        """The stored form: a column for every answer given at least twice."""
        stored = [i for i, key in enumerate(self.classes) if key in self.stored]
        typicals = [self.typical(self.classes[i]) for i in stored]
        known = self.history_typical is not None
        return AnswerModel(
            inverse=self.inverse,
            columns=self.weights[:, stored].T.copy(),
            digests=tuple(answer_digest(self.classes[i]) for i in stored),
            examples=self.messages,
            texts=self.texts,
            ridge=self.ridge,
            typicals=tuple(round(t or 0.0, 6) for t in typicals) if known else None,
            history_typical=round(self.history_typical, 6) if known else None,
            text_rows=self.text_rows[stored].copy() if self.text_rows is not None else None,
            text_weight=self.text_weight if self.text_rows is not None else 0.0,
        )


async def embed_answer_texts(
    embedder: Embedder,
    answers: Sequence[str],
    batch: int = 64,
    store: AnswerVectorRepository | None = None,
) -> dict[str, list[float]]:
    """The own vector of each answer that keeps a column (`stored_keys`), by answer_key
    (its first spelling embedded); none when the history is too small for an answer
    model. An answer is longer than a question (about 50 ms each with e5-small on one
    core), so batches go to every thread the embedder has, and a `store` keeps the
    vectors so that each answer is embedded once per model."""
    if len(answers) < MIN_MESSAGES:
        return {}
    given = [answer_key(a) for a in answers]
    first: dict[str, str] = {}
    for key, answer in zip(given, answers, strict=True):
        first.setdefault(key, answer)
    stored = stored_keys(given)
    keys = [key for key in first if key in stored]
    kept = await store.known(embedder.model_id, keys) if store is not None else {}
    todo = [key for key in keys if key not in kept]
    batches = [todo[start : start + batch] for start in range(0, len(todo), batch)]
    vectors: list[list[float]] = []
    for wave in range(0, len(batches), embedder.parallel_batches):
        done = await asyncio.gather(
            *(
                embedder.embed_answers([first[k] for k in part])
                for part in batches[wave : wave + embedder.parallel_batches]
            )
        )
        vectors += [vector for part in done for vector in part]
    fresh = dict(zip(todo, vectors, strict=True))
    if store is not None:
        await store.keep(embedder.model_id, fresh)
    log.info("answer_texts_embedded", embedded=len(fresh), kept=len(kept))
    return {key: kept[key] if key in kept else fresh[key] for key in keys}
