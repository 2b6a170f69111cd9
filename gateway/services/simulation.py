"""How the confidence model is taught: the validated history asked of itself.

Every validated message is asked once of the rest of the history (is its own answer
chosen?) and once with every message of its answer taken out (an intent with no
validated answer yet: any suggestion would be wrong), weighed and ordered as suggestions
are (gateway.services.confidence); a logistic regression over the winners' features,
right or not, is the confidence model. No labelled data is needed beyond what operators
validated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

import numpy as np

from gateway.services.answer_model import SAME_TEXT, AnswerFit
from gateway.services.confidence import (
    CLOSENESS_BAR,
    NEIGHBOURS,
    ConfidenceModel,
    Vote,
    order_by_scores,
    weigh,
)
from gateway.services.lexicon import VOTERS
from storage.reviews import answer_key

if TYPE_CHECKING:
    from gateway.services.projection import Projection

MIN_HISTORY = 20  # validated messages, fewest a confidence model is fitted on


def fit(features: np.ndarray, labels: np.ndarray, *, l2: float = 1e-3) -> tuple[float, np.ndarray]:
    """Logistic regression by Newton's method on standardised features (a few rows are
    enough and it converges in a handful of steps); weights for the raw features."""
    mean = features.mean(axis=0)
    scale = features.std(axis=0) + 1e-9
    z = np.hstack([np.ones((len(features), 1)), (features - mean) / scale])
    w = np.zeros(z.shape[1])
    penalty = l2 * np.eye(z.shape[1])
    penalty[0, 0] = 0.0
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-np.clip(z @ w, -60, 60)))
        gradient = z.T @ (p - labels) / len(labels) + penalty @ w
        hessian = (z.T * (p * (1 - p))) @ z / len(labels) + penalty
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if float(np.abs(step).max()) < 1e-8:
            break
    weights = w[1:] / scale
    return float(w[0] - np.sum(w[1:] * mean / scale)), weights


@dataclass(frozen=True)
class Simulated:
    """One simulated question: the winner's features and whether it was right."""

    features: list[float]
    right: bool
    missing: bool  # its own answer had been taken out of the history
    row: int  # its row in the history
    order: tuple[str, ...]  # the first answers' keys, best first (lexicon.VOTERS)


def simulate_history(
    vectors: np.ndarray,
    answers: Sequence[str],
    *,
    temperature: float,
    neighbours: int = NEIGHBOURS,
    projection: Projection | None = None,
    scorer: AnswerFit | None = None,
) -> list[Simulated]:
    """Every validated message asked of the rest of the history (leave one out, with its
    twins of the same text), and of the history without its answer (a missing intent).
    `vectors` are unit rows; with a `projection` the neighbours are ranked and weighed
    under it, and with the answer model's fit (`scorer`, its first rows these messages)
    ordered by it, as suggestions are."""
    keys = np.array([answer_key(a) for a in answers], dtype=object)
    raw = np.asarray(vectors)
    if projection is not None:
        vectors = projection.apply(vectors)
    similarity = vectors @ vectors.T
    out: list[Simulated] = []
    for i in range(len(keys)):
        row = similarity[i].copy()
        # Itself, and any message of the very same text: a question asked again word for
        # word tells nothing of how a new one fares, and a history with many such twins
        # would teach the model that a right answer always has one.
        row[i] = -np.inf
        twins = np.flatnonzero(row >= SAME_TEXT)
        row[twins] = -np.inf
        for missing in (False, True):
            if missing:
                row[keys == keys[i]] = -np.inf
            finite = int(np.isfinite(row).sum())
            if finite == 0:
                continue
            take = min(neighbours, finite)
            nearest = np.argpartition(-row, take - 1)[:take]
            nearest = nearest[np.argsort(-row[nearest])]
            votes = [Vote(float(row[j]), answers[j]) for j in nearest]
            ranked = weigh(votes, temperature=temperature)
            if scorer is not None:
                # Scored by the fit without what this question may not see: its answer's
                # rows and text, or itself and its copies.
                block = scorer.rows_of(keys[i]) if missing else np.union1d([i], twins)
                held = scorer.held_out_row(i, block)
                texts = scorer.text_scores(raw[i])
                if texts is not None:
                    held = held + texts
                scores = {e.key: held[scorer.index[e.key]] for e in ranked}
                # How near its answer's messages are to one another, without this one.
                without = None if missing else i
                ranked = order_by_scores(ranked, scores, partial(scorer.typical, without=without))
            right = ranked[0].key == keys[i] and not missing
            order = tuple(e.key for e in ranked[:VOTERS])
            out.append(Simulated(ranked[0].features(), right, missing, i, order))
    return out


def fit_on_history(
    vectors: np.ndarray,
    answers: Sequence[str],
    *,
    temperature: float,
    model_id: str | None = None,
    projection: Projection | None = None,
    scorer: AnswerFit | None = None,
) -> ConfidenceModel | None:
    """The confidence model of this history, or None when it cannot teach one (see
    `simulate_calibrating` and `fit_on_cases`). With a `projection`, the votes are
    weighed as the suggestions will weigh them: on similarities under it, at its
    temperature, and ordered by the answer model's fit (`scorer`) where there is one."""
    cases = simulate_calibrating(
        vectors, answers, temperature=temperature, projection=projection, scorer=scorer
    )
    return fit_on_cases(cases, model_id=model_id)


def simulate_calibrating(
    vectors: np.ndarray,
    answers: Sequence[str],
    *,
    temperature: float,
    projection: Projection | None = None,
    scorer: AnswerFit | None = None,
) -> list[Simulated]:
    """The simulated questions a confidence model of this history is fitted on: none
    under MIN_HISTORY messages; under a `projection`, weighed at its temperature."""
    if len(answers) < MIN_HISTORY:
        return []
    if projection is not None:
        temperature = projection.temperature
    return simulate_history(
        vectors, answers, temperature=temperature, projection=projection, scorer=scorer
    )


def fit_on_cases(cases: Sequence[Simulated], *, model_id: str | None) -> ConfidenceModel | None:
    """The confidence model of a history's simulated questions, or None when fewer than
    five were answered right or fewer than five wrong (no answer validated twice, say:
    nothing could ever be right)."""
    labels = np.array([c.right for c in cases], dtype=float)
    if labels.sum() < 5 or labels.sum() > len(labels) - 5:
        return None
    intercept, weights = fit(np.array([c.features for c in cases]), labels)
    return ConfidenceModel(
        intercept=round(intercept, 4),
        weights=tuple(round(float(w), 4) for w in weights),
        source="calibrated",
        examples=len(cases),
        model_id=model_id,
        extra={"right_share": round(float(labels.mean()), 4)},
        bar=CLOSENESS_BAR if len(weights) == 7 else None,
    )
