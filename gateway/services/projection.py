"""A view of the embedding space learnt from the validated history: what tells answers apart.

A general-purpose model spends most of its directions on what every support message
shares (greeting, "meu pedido", the way a customer types), so two questions with
different answers can sit as close as two phrasings of one. The validated history shows
which directions merely vary within one answer's phrasings: the within-answer scatter.
Dividing it out (whitening: x -> S^-1/2 x, with S the scatter shrunk towards its mean
variance so that the directions the history has not seen keep their place) stretches
what separates answers and shrinks what does not.

Measured on the tuning split of eval/pt_br (e5-small, eight splits of the history):
nearest-answer top-1 0.77 -> 0.82, sector from the neighbours 0.86 -> 0.91, and the
coverage reachable at precision 0.95 with 0.90 of unanswerable messages silent
0.44 -> 0.53. Shrinkage 0.4 to 0.8 all did about as well; 0.6 is kept.

The pgvector search stays on the plain cosine: its nearest rows are re-scored here, in
Python, with their vectors (as many as vote for a suggestion; ROUTER_POOL x as many for
the router, whose ten voters are few). That runs on the event loop:
it is a product of some 60 x 384 by 384 x 384 floats (0.1 ms) and a little Python per
row, and handed to a thread it cost more than it saved (bench/pipeline_latency.py
--calibrate at 50 msg/s, runs alternating: receipt to suggestion p95 133-268 ms against
64-153 ms on the loop; the thread's Python work waits on the loop's for the GIL).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from gateway.services.answer_model import MIN_MESSAGES, AnswerFit, AnswerModel
from gateway.services.lexicon import Lexicon
from storage.neighbours import Neighbour
from storage.reviews import answer_key
from storage.vectors import QueryVector, matrix_from_text, matrix_text

SHRINKAGE = 0.6
# Similarities under the projection spread less than cosines; the votes' temperature
# follows (0.01 against the cosine's 0.02: top-1 0.82 against 0.79 on the tuning split).
TEMPERATURE = 0.01
# Rows the router reads by cosine for every one that votes under the projection. On the
# tuning split its ten voters chosen among the nearest 10 gave sector 0.89, among 20 0.90,
# 60 0.91; the suggestion's thirty among the nearest 30 did as well as among 60 or all
# rows (top-1 0.816, 0.815, 0.820), so it reads no more than vote.
ROUTER_POOL = 2
# Fewer validated messages in answers given more than once teach no scatter.
MIN_ROWS = 20


@dataclass(frozen=True)
class Projection:
    """The whitening matrix of one embedding model's space, fitted on `examples` rows."""

    matrix: np.ndarray = field(repr=False)
    examples: int
    model_id: str | None = None
    shrinkage: float = SHRINKAGE
    temperature: float = TEMPERATURE
    # The answers' ridge regression in this space (gateway.services.answer_model).
    answers: AnswerModel | None = None
    # The words each answer was asked with (gateway.services.lexicon).
    lexicon: Lexicon | None = field(default=None, repr=False)

    @property
    def dim(self) -> int:
        return int(self.matrix.shape[0])

    def apply(self, vectors: Any) -> np.ndarray:
        """Rows projected and scaled to unit length (one vector or a matrix of them)."""
        array = np.asarray(vectors, dtype=np.float32)
        projected = array @ self.matrix
        norms = np.linalg.norm(projected, axis=-1, keepdims=True)
        return projected / np.maximum(norms, 1e-12)

    def apply_query(self, query: Sequence[float]) -> np.ndarray:
        """One message's vector projected; a QueryVector keeps it for the message's other
        searches and scores (a calibrated worker projected each message six times)."""
        if isinstance(query, QueryVector):
            return query.mapped(self, self.apply)
        return self.apply(query)

    def rescore(self, query: Sequence[float], neighbours: Sequence[Neighbour]) -> list[Neighbour]:
        """`neighbours` (fetched with their vectors) ranked by similarity under the
        projection, best first; each keeps its cosine in `raw` and its projected vector
        in `projected` (the answer model reads it)."""
        usable = [n for n in neighbours if n.vector is not None]
        if not usable:
            return []
        rows = self.apply([n.vector for n in usable])
        similarities = rows @ self.apply_query(query)
        # Built directly: dataclasses.replace costs several times more, sixty times a message.
        rescored = [
            Neighbour(n.id, n.sector, n.answer, n.message, float(s), n.vector, n.cosine, row)
            for n, s, row in zip(usable, similarities.tolist(), rows, strict=True)
        ]
        rescored.sort(key=lambda n: n.similarity, reverse=True)
        return rescored

    def similarities(self, query: Sequence[float], vectors: Any) -> np.ndarray:
        """The similarity of `query` to each row of `vectors` under the projection."""
        return self.apply(vectors) @ self.apply_query(query)

    def summary(self) -> dict[str, Any]:
        """What a person reads of it: everything but the matrix."""
        return {
            "dim": self.dim,
            "examples": self.examples,
            "model_id": self.model_id,
            "shrinkage": self.shrinkage,
            "temperature": self.temperature,
            "answer_model": self.answers.summary() if self.answers else None,
            "lexicon": self.lexicon.summary() if self.lexicon else None,
        }

    def as_json(self) -> dict[str, Any]:
        return {
            **self.summary(),
            "matrix": matrix_text(self.matrix),
            "answer_model": self.answers.as_json() if self.answers else None,
            "lexicon": self.lexicon.as_json() if self.lexicon else None,
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Projection:
        dim = int(value["dim"])
        if dim <= 0:
            raise ValueError(f"a projection of dimension {dim} needs {dim}x{dim} floats")
        matrix = matrix_from_text(value["matrix"], (dim, dim), f"a projection of dimension {dim}")
        stored = value.get("answer_model")
        answers = AnswerModel.from_json(stored) if stored else None
        if answers is not None and answers.dim != dim:
            raise ValueError(f"an answer model of dimension {answers.dim} in a projection of {dim}")
        return cls(
            matrix=matrix,
            examples=int(value.get("examples", 0)),
            model_id=value.get("model_id"),
            shrinkage=float(value.get("shrinkage", SHRINKAGE)),
            temperature=float(value.get("temperature", TEMPERATURE)),
            answers=answers,
            lexicon=Lexicon.from_json(value["lexicon"]) if value.get("lexicon") else None,
        )


def describe(summary: dict[str, Any] | None) -> str:
    """How the votes are weighed, in words, from a projection's summary (None: none)."""
    if summary is None:
        return "votes weighed on plain cosine"
    said = f"votes weighed under a projection learnt from {summary['examples']} messages"
    if answers := summary.get("answer_model"):
        said += f", answers ordered by a model of {answers['answers']} given more than once"
    if lexicon := summary.get("lexicon"):
        said += f", the words {lexicon['answers']} answers were asked with"
    return said


def fit_projection(
    vectors: np.ndarray,
    answers: Sequence[str],
    *,
    model_id: str | None = None,
    shrinkage: float = SHRINKAGE,
) -> Projection | None:
    """The projection of this history, or None when too few of its messages share an
    answer with another (fewer than MIN_ROWS) to show how phrasings of one answer vary."""
    keys = [answer_key(a) for a in answers]
    groups: dict[str, list[int]] = {}
    for row, key in enumerate(keys):
        groups.setdefault(key, []).append(row)
    shared = [rows for rows in groups.values() if len(rows) > 1]
    count = sum(len(rows) for rows in shared)
    if count < MIN_ROWS:
        return None
    data = np.asarray(vectors, dtype=np.float64)
    residuals = np.vstack([data[rows] - data[rows].mean(axis=0) for rows in shared])
    scatter = residuals.T @ residuals / count
    dim = scatter.shape[0]
    spread = float(np.trace(scatter)) / dim
    if spread <= 0.0:
        return None
    shrunk = (1 - shrinkage) * scatter + shrinkage * spread * np.eye(dim)
    values, basis = np.linalg.eigh(shrunk)
    # S^-1/2, scaled so that an average direction keeps its length.
    matrix = (basis * (values / spread) ** -0.5) @ basis.T
    return Projection(
        matrix=matrix.astype(np.float32),
        examples=count,
        model_id=model_id,
        shrinkage=shrinkage,
    )


def with_answers(
    projection: Projection,
    vectors: np.ndarray,
    answers: Sequence[str],
    texts: Mapping[str, Sequence[float]] | None = None,
) -> tuple[Projection, AnswerFit | None]:
    """`projection` with the answer model of this history fitted in its space, and that
    fit, where the history is large enough to teach one (answer_model.MIN_MESSAGES).
    `texts` holds answers' own vectors by answer_key (Embedder.embed_answers)."""
    if len(answers) < MIN_MESSAGES:
        return projection, None
    told = sorted(texts or {})
    projected = projection.apply([texts[k] for k in told]) if texts and told else []
    fit = AnswerFit(
        projection.apply(vectors),
        [answer_key(a) for a in answers],
        texts=dict(zip(told, projected, strict=True)),
        raw_texts={k: texts[k] for k in told} if texts else None,
    )
    return replace(projection, answers=fit.model()), fit
