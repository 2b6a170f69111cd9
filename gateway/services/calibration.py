"""Re-calibrating suggestions from what operators decided (`atende calibrate`).

These are fitted, and stored together under one meta key only when asked to
(`--apply`); the pipeline reads them back within a minute:

- the projection the votes are weighed under and the answer model that orders the
  answers (gateway.services.projection, gateway.services.answer_model), and the
  confidence model, on the validated history itself (`fit_on_history`: every
  validated message asked of the rest, and of the rest without its answer);
- a confidence threshold per sector, from the suggestions operators reviewed: the lowest
  bar at which the reviewed suggestions that pass it were approved unchanged at least as
  often as the target precision, with at least `min_reviews` of them passing.

Reviews are scored again as the suggester would score them now (the new model, today's
history without the reviewed message itself), so thresholds and model speak one scale.
A review counts as right when the answer that would win now is the one the operator
approved or wrote, and as wrong when it is the one they rejected; a rejection whose
answer would no longer win tells nothing about the new winner and is left out.

A threshold is never set below the confidences reviews were seen at: below them no
operator ever judged a suggestion, and precision there is unknown.
"""

from __future__ import annotations

import copy
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
import structlog

from gateway.embeddings.base import Embedder
from gateway.services.answer_model import embed_answer_texts
from gateway.services.confidence import ConfidenceModel, default_model, reading_words
from gateway.services.lexicon import fit_lexicon
from gateway.services.projection import Projection, describe, fit_projection, with_answers
from gateway.services.review_labels import Label
from gateway.services.simulation import fit_on_cases, simulate_calibrating
from gateway.services.suggestions import Calibration, SuggestionMaker
from storage.answer_vectors import AnswerVectorRepository
from storage.repositories import MetaRepository
from storage.reviews import ReviewedMessage, ReviewRepository, answer_key

log = structlog.get_logger(__name__)

CALIBRATION_KEY = "suggestion_calibration"
# The confidence model compares every validated message with every other: the newest
# few thousand are plenty to fit four weights and keep that square small.
HISTORY_LIMIT = 4000
GRID = [round(0.05 * i, 2) for i in range(1, 20)]  # 0.05 .. 0.95
# `atende calibrate`'s defaults: the reviews of the last DAYS days, a sector's bar the lowest
# whose reviewed suggestions were approved unchanged TARGET of the time, with at least
# MIN_REVIEWS of them.
DAYS, TARGET, MIN_REVIEWS = 30, 0.95, 30


@dataclass(frozen=True)
class Operating:
    """What a bar does to a sector's reviewed suggestions."""

    threshold: float
    reviewed: int
    kept: int
    precision: float | None  # of the kept, the share right
    coverage: float | None  # of the reviewed, the share kept

    def as_json(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            "reviewed": self.reviewed,
            "kept": self.kept,
            "precision": None if self.precision is None else round(self.precision, 4),
            "coverage": None if self.coverage is None else round(self.coverage, 4),
        }


def operating(labels: Sequence[Label], threshold: float) -> Operating:
    kept = [label for label in labels if label.confidence >= threshold]
    right = sum(label.right for label in kept)
    return Operating(
        threshold=threshold,
        reviewed=len(labels),
        kept=len(kept),
        precision=right / len(kept) if kept else None,
        coverage=len(kept) / len(labels) if labels else None,
    )


@dataclass(frozen=True)
class SectorResult:
    sector: str
    before: Operating
    after: Operating
    note: str

    def as_json(self) -> dict[str, Any]:
        return {
            "sector": self.sector,
            "before": self.before.as_json(),
            "after": self.after.as_json(),
            "note": self.note,
        }


def choose_threshold(
    labels: Sequence[Label], *, target: float, min_reviews: int, current: float
) -> tuple[float, str]:
    """The sector's new bar and why; `current` stays when the labels cannot tell."""
    if len(labels) < min_reviews:
        return current, f"kept: {len(labels)} reviews, fewer than {min_reviews}"
    lowest = math.floor(min(label.confidence for label in labels) * 20) / 20
    eligible = [
        point
        for point in (operating(labels, t) for t in GRID if t >= lowest)
        if point.kept >= min_reviews and point.precision is not None
    ]
    if not eligible:
        return current, f"kept: no bar leaves {min_reviews} reviews to judge it by"
    reaching = [p for p in eligible if (p.precision or 0.0) >= target]
    if reaching:
        return reaching[0].threshold, f"lowest bar with precision >= {target:.2f}"
    best = max(eligible, key=lambda p: (p.precision or 0.0, -p.threshold))
    return best.threshold, f"no bar reaches precision {target:.2f}; the most precise one"


@dataclass
class CalibrationReport:
    before: Calibration
    after: Calibration
    sectors: list[SectorResult] = field(default_factory=list)
    labels: int = 0
    left_out: int = 0  # rejections whose answer would no longer win
    source: str = "database"
    model_note: str = ""
    applied: bool = False

    def as_json(self) -> dict[str, Any]:
        before, after = (
            c.projection.summary() if c.projection else None for c in (self.before, self.after)
        )
        return {
            "applied": self.applied,
            "source": self.source,
            "labels": self.labels,
            "left_out": self.left_out,
            "model": {
                "before": self.before.model.as_json(),
                "after": self.after.model.as_json(),
                "note": self.model_note,
            },
            "projection": {"before": before, "after": after},
            "sectors": [s.as_json() for s in self.sectors],
            # What would be stored, the projection's matrix summed up.
            "calibration": {**self.after.as_json(), "projection": after},
        }


def calibrate_thresholds(
    report: CalibrationReport,
    before_labels: Sequence[Label],
    after_labels: Sequence[Label],
    *,
    sectors: Iterable[str],
    default_bar: float,
    target: float,
    min_reviews: int,
    default_bar_after: float | None = None,
) -> None:
    """Fill `report.sectors` and `report.after.sector_thresholds`, sector by sector.
    `default_bar` is the bar of a sector without a threshold of its own, before; after,
    `default_bar_after` when the new confidence model brings another one."""
    after_bar = default_bar if default_bar_after is None else default_bar_after
    by_sector_before: dict[str | None, list[Label]] = defaultdict(list)
    by_sector_after: dict[str | None, list[Label]] = defaultdict(list)
    for label in before_labels:
        by_sector_before[label.sector].append(label)
    for label in after_labels:
        by_sector_after[label.sector].append(label)
    thresholds = dict(report.before.sector_thresholds)
    for sector in sectors:
        current = thresholds.get(sector, default_bar)
        kept = thresholds.get(sector, after_bar)
        bar, note = choose_threshold(
            by_sector_after[sector], target=target, min_reviews=min_reviews, current=kept
        )
        if bar != kept or sector in thresholds:
            thresholds[sector] = bar
        report.sectors.append(
            SectorResult(
                sector,
                operating(by_sector_before[sector], current),
                operating(by_sector_after[sector], bar),
                note,
            )
        )
    report.after.sector_thresholds = thresholds


def rescore(
    maker: SuggestionMaker,
    models: Sequence[ConfidenceModel],
    reviewed: ReviewedMessage,
    ranked: Sequence[Any],
) -> list[Label] | None:
    """The review as a label for each of `models`, from one weighing of today's
    candidates: None when it cannot judge today's winner."""
    given = reviewed.sector_given
    assessment = maker.assess(reviewed.vector, ranked, sector_given=given, text=reviewed.message)
    if not assessment.evidence:
        return None
    winner = assessment.evidence[0]
    if reviewed.outcome == "rejected":
        if winner.key != answer_key(reviewed.suggested_answer):
            return None
        right = False
    else:
        right = winner.key == answer_key(reviewed.final_answer)
    near = (assessment.winner_cosine() or 0.0) >= maker.threshold
    return [
        Label(reviewed.sector, model.confidence(winner) if near else 0.0, right) for model in models
    ]


def fit_calibration(
    vectors: np.ndarray,
    answers: Sequence[str],
    *,
    temperature: float,
    model_id: str | None,
    answer_texts: Mapping[str, Sequence[float]] | None = None,
    messages: Sequence[str] | None = None,
) -> tuple[Projection | None, ConfidenceModel | None]:
    """What calibrating learns from the validated history: the projection the votes are
    weighed under (None when the history cannot teach one), and the confidence model
    fitted under it (None when the history cannot teach one either). `answer_texts`
    (answer_model.embed_answer_texts) teaches the answer model each answer's own wording too,
    and the `messages`' texts the lexicon the confidence reads (gateway.services.lexicon)."""
    projection = fit_projection(vectors, answers, model_id=model_id)
    scorer = None
    if projection is not None:
        projection, scorer = with_answers(projection, vectors, answers, answer_texts)
    cases = simulate_calibrating(
        vectors, answers, temperature=temperature, projection=projection, scorer=scorer
    )
    model = fit_on_cases(cases, model_id=model_id)
    if model is not None and projection is not None and len(model.weights) == 7 and messages:
        orders = {c.row: c.order for c in cases if c.right}
        projection = replace(projection, lexicon=fit_lexicon(messages, answers, orders))
        model = reading_words(model)
    return (projection if model is not None else None), model


async def _relabel(
    maker: SuggestionMaker, judge: SuggestionMaker, reviewed: ReviewedMessage
) -> list[Label] | None:
    """One review as a label before and after calibrating (see `rescore`); the candidates
    are searched as the worker searches them (`SuggestionMaker.weigh`), once when both
    weigh them under the same projection."""
    sector = reviewed.sector if reviewed.sector_given else None
    search = {"exclude_id": reviewed.interaction_id, "limit": maker.pool}
    ranked = await maker.candidates(reviewed.vector, sector, **search)
    if judge.calibration.projection is maker.calibration.projection:
        return rescore(maker, (maker.calibration.model, judge.calibration.model), reviewed, ranked)
    before = rescore(maker, (maker.calibration.model,), reviewed, ranked)
    ranked = await judge.candidates(reviewed.vector, sector, **search)
    after = rescore(judge, (judge.calibration.model,), reviewed, ranked)
    return None if before is None or after is None else before + after


async def calibrate_from_database(
    maker: SuggestionMaker,
    reviews: ReviewRepository,
    embedder: Embedder,
    answer_vectors: AnswerVectorRepository,
    *,
    sectors: Sequence[str],
    days: int,
    target: float,
    min_reviews: int,
    refit: bool = True,
) -> CalibrationReport:
    """What calibrating on this database's history and recent reviews would store. The
    answers' own vectors are kept in `answer_vectors` even by a dry run: they are derived
    data, like the messages' vectors, and `--apply` after a dry run reads them back."""
    before = maker.calibration
    after = before.draft()
    report = CalibrationReport(before=before, after=after)
    if refit:
        vectors, answers, messages = await reviews.validated_history(
            model_id=maker.model_id, limit=HISTORY_LIMIT
        )
        projection, fitted = fit_calibration(
            vectors,
            answers,
            temperature=maker.temperature,
            model_id=maker.model_id,
            answer_texts=await embed_answer_texts(embedder, answers, store=answer_vectors),
            messages=messages,
        )
        if fitted is None:
            report.model_note = (
                f"kept: {len(answers)} validated messages cannot teach a model "
                "(at least 20, with answers given more than once)"
            )
        else:
            after.model, after.projection = fitted, projection
            summary = projection.summary() if projection else None
            report.model_note = f"fitted on {len(answers)} validated messages, {describe(summary)}"
    else:
        report.model_note = "kept (--keep-model)"
    before_labels: list[Label] = []
    after_labels: list[Label] = []
    judge = copy.copy(maker)  # the suggester as it would be after calibrating
    judge.calibration = after
    for reviewed in await reviews.reviewed(days=days, model_id=maker.model_id):
        labels = await _relabel(maker, judge, reviewed)
        if labels is None:
            report.left_out += 1
            continue
        before_labels.append(labels[0])
        after_labels.append(labels[1])
    report.labels = len(after_labels)
    calibrate_thresholds(
        report,
        before_labels,
        after_labels,
        sectors=sectors,
        default_bar=maker.min_confidence,
        default_bar_after=judge.min_confidence,
        target=target,
        min_reviews=min_reviews,
    )
    return report


def calibrate_from_labels(
    current: Calibration,
    labels: Sequence[Label],
    *,
    sectors: Sequence[str],
    default_bar: float,
    target: float,
    min_reviews: int,
) -> CalibrationReport:
    """Thresholds from reviews scored elsewhere (their confidences as given, so the
    confidence model that scored them is kept)."""
    after = current.draft()
    report = CalibrationReport(
        before=current, after=after, labels=len(labels), source="file", model_note="kept"
    )
    calibrate_thresholds(
        report,
        labels,
        labels,
        sectors=sectors,
        default_bar=default_bar,
        target=target,
        min_reviews=min_reviews,
    )
    return report


async def load_calibration(meta: MetaRepository, model_id: str) -> Calibration:
    """What `atende calibrate --apply` stored, or the defaults. A model fitted for another
    embedding model no longer reads its numbers right: the default model replaces it."""
    stored = await meta.get(CALIBRATION_KEY)
    if not stored:
        return Calibration.default_for(model_id)
    try:
        calibration = Calibration.from_json(stored)
    except (KeyError, TypeError, ValueError) as exc:
        log.warning("calibration_unreadable", error=str(exc))
        return Calibration.default_for(model_id)
    fitted_for = calibration.model.model_id
    another = fitted_for is not None and fitted_for != model_id
    if another:
        log.warning("calibration_for_another_model", fitted_for=fitted_for, model=model_id)
    projection = calibration.projection
    if projection is not None and projection.model_id not in (None, model_id):
        log.warning("projection_for_another_model", fitted_for=projection.model_id, model=model_id)
        another = True
    if another or calibration.model.source != "calibrated":
        calibration.model = default_model(model_id)
        # The default model reads plain cosines, and a projection is of one model's space.
        calibration.projection = None
    return calibration


async def store_calibration(meta: MetaRepository, calibration: Calibration) -> None:
    calibration.applied_at = datetime.now(UTC).isoformat(timespec="seconds")
    await meta.set(CALIBRATION_KEY, calibration.as_json())
