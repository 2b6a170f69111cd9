"""`atende eval`: how well routing and suggestions do on labelled data.

The data (gateway.evaluation.data) is split with a fixed seed: a share of the intents is left
out of the history entirely (their messages ask for something nothing validated answers),
the other intents are split in the same proportion into history and questions, and every
out-of-scope message is asked. The history is loaded into a scratch database as
human-validated interactions, the confidence model is fitted on it as `atende calibrate`
does, and every question is routed and given a suggestion by the same SectorRouter and
SuggestionMaker the worker uses.

The scratch database (gateway.evaluation.scratch) is created on the configured server (or
the embedded one) under a fresh name and dropped at the end, so the user's data is never
touched.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from config.errors import ConfigurationError
from config.sectors import SectorCatalog
from config.settings import Settings
from gateway.embeddings import Embedder
from gateway.evaluation.data import Example, protocol
from gateway.evaluation.reviews import (
    OWN_HISTORY,
    review_stream,
    run_reviews,
    stream_from_history,
)
from gateway.evaluation.scratch import scratch_database
from gateway.evaluation.targets import coverage_at_precision, reachable_on_curve
from gateway.services.answer_model import embed_answer_texts
from gateway.services.calibration import fit_calibration
from gateway.services.routing import SectorRouter
from gateway.services.suggestions import Assessment, SuggestionMaker
from gateway.services.triage import build_triage, search_nearby, triage_message
from storage import migrate
from storage.database import create_engine, session_factory
from storage.repositories import SectorRepository
from storage.reviews import answer_key
from storage.routing import RoutingRepository
from storage.vectors import QueryVector

# The confidence bars the curve is drawn at.
CURVE = tuple(round(0.05 * i, 2) for i in range(20))


@dataclass
class Outcome:
    example: Example
    predicted_sector: str | None
    route_method: str | None
    assessment: Assessment
    seconds: float


@dataclass
class EvalReport:
    history: int
    questions: int
    threshold: float
    min_confidence: float
    model_id: str
    dataset: str = ""
    split: str | None = None
    asked: dict[str, int] = field(default_factory=dict)
    calibration: dict[str, Any] = field(default_factory=dict)
    sector_accuracy: float | None = None
    sector_accuracy_by_scope: dict[str, float | None] = field(default_factory=dict)
    confusion: dict[str, dict[str, int]] = field(default_factory=dict)
    route_methods: dict[str, int] = field(default_factory=dict)
    top1: float | None = None
    hit3: float | None = None
    # Of the in-scope messages given no suggestion at the bar, the share whose right answer
    # is among the first three the console offers the operator (its "possible answers").
    hit3_unsuggested: float | None = None
    coverage: float | None = None
    precision: float | None = None
    no_suggestion: dict[str, float | None] = field(default_factory=dict)
    curve: list[dict[str, float | None]] = field(default_factory=list)
    # What the decision reaches at its best while the targets hold (gateway.evaluation.targets).
    reachable: dict[str, float | None] = field(default_factory=dict)
    latency_ms: dict[str, float] = field(default_factory=dict)
    embed_ms_per_message: float = 0.0
    # The seeds of the splits measured; with more than one, every figure above is their
    # mean (`combine`), `splits` holds each split's report and `ranges` the least and the
    # most each headline figure was.
    seeds: list[int] = field(default_factory=list)
    # With `--reviews`: what the simulated operator did before the questions were asked
    # (gateway.evaluation.reviews); empty otherwise.
    reviews: dict[str, Any] = field(default_factory=dict)
    splits: list[dict[str, Any]] = field(default_factory=list)
    ranges: dict[str, list[float]] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def headline(self) -> dict[str, float | None]:
        """The figures atende's targets read, by name (as `ranges` names them)."""
        return {
            "sector_in_scope": self.sector_accuracy_by_scope.get("in_scope"),
            "top1": self.top1,
            "hit3": self.hit3,
            "coverage": self.coverage,
            "precision": self.precision,
            "out_of_scope_silent": self.no_suggestion.get("out_of_scope"),
            "missing_intent_silent": self.no_suggestion.get("missing_intent"),
        }


def _correct(asked: Example, source: Example) -> bool:
    """Same intent when both have one, else the same answer (ignoring case and spacing)."""
    if asked.intent is not None and source.intent is not None:
        return asked.intent == source.intent
    if asked.answer is None or source.answer is None:
        return False
    return answer_key(asked.answer) == answer_key(source.answer)


def _share(flags: list[bool]) -> float | None:
    return round(sum(flags) / len(flags), 4) if flags else None


def summarise(
    outcomes: list[Outcome],
    maker: SuggestionMaker,
    by_id: dict[int, Example],
    *,
    history: int,
    embed_ms: float,
) -> EvalReport:
    in_scope = [o for o in outcomes if not o.example.missing and not o.example.out_of_scope]
    missing = [o for o in outcomes if o.example.missing]
    out = [o for o in outcomes if o.example.out_of_scope]
    model, projection = maker.calibration.model, maker.calibration.projection
    report = EvalReport(
        history=history,
        questions=len(outcomes),
        threshold=maker.threshold,
        min_confidence=maker.min_confidence,
        model_id=maker.model_id,
        asked={"in_scope": len(in_scope), "missing_intent": len(missing), "out_of_scope": len(out)},
        calibration={
            "source": model.source,
            "examples": model.examples,
            "projection": projection.summary() if projection else None,
        },
        embed_ms_per_message=round(embed_ms, 2),
    )
    routed = [o for o in outcomes if o.example.sector is not None]
    if routed:
        report.sector_accuracy = _share([o.predicted_sector == o.example.sector for o in routed])
        report.sector_accuracy_by_scope = {
            "in_scope": _share([o.predicted_sector == o.example.sector for o in in_scope]),
            "missing_intent": _share([o.predicted_sector == o.example.sector for o in missing]),
        }
        confusion: dict[str, Counter[str]] = defaultdict(Counter)
        for o in routed:
            confusion[o.example.sector or ""][o.predicted_sector or "-"] += 1
        report.confusion = {gold: dict(row) for gold, row in sorted(confusion.items())}
        report.route_methods = dict(Counter(o.route_method or "-" for o in routed))
    seconds = np.asarray([o.seconds for o in outcomes]) * 1000
    report.latency_ms = {
        "p50": round(float(np.percentile(seconds, 50)), 2),
        "p95": round(float(np.percentile(seconds, 95)), 2),
    }
    if not any(o.example.intent or o.example.answer for o in in_scope):
        # Sectors only: nothing says whether a suggested answer is right.
        return report

    def right(o: Outcome, rank: int) -> bool:
        answers = o.assessment.answers()
        return len(answers) > rank and _correct(o.example, by_id[answers[rank][0].neighbour.id])

    def in_first_three(o: Outcome) -> bool:
        return any(right(o, rank) for rank in range(3))

    # Top-1 and hit@3: the answers ranked with no bar at all.
    report.top1 = _share([right(o, 0) for o in in_scope])
    report.hit3 = _share([in_first_three(o) for o in in_scope])

    def at(bar: float | None) -> dict[str, float | None]:
        def made(o: Outcome) -> bool:
            sector = o.predicted_sector
            return maker.choose(o.assessment, sector, min_confidence=bar) is not None

        chosen = [o for o in in_scope if made(o)]
        return {
            "min_confidence": bar,
            "coverage": _share([made(o) for o in in_scope]),
            "precision": _share([right(o, 0) for o in chosen]),
            "out_of_scope_silent": _share([not made(o) for o in out]),
            "missing_intent_silent": _share([not made(o) for o in missing]),
        }

    report.curve = [at(bar) for bar in CURVE]
    coverage, bar = reachable_on_curve(report.curve)
    # Every in-scope message any bar could suggest (past the similarity floor).
    suggestable = [
        (made.confidence, right(o, 0))
        for o in in_scope
        if (made := maker.choose(o.assessment, o.predicted_sector, min_confidence=0.0)) is not None
    ]
    report.reachable = {
        "coverage": coverage,
        "bar": bar,
        "in_scope_coverage": coverage_at_precision(suggestable, len(in_scope)),
    }
    configured = at(None)
    report.coverage, report.precision = configured["coverage"], configured["precision"]
    unsuggested = [o for o in in_scope if maker.choose(o.assessment, o.predicted_sector) is None]
    report.hit3_unsuggested = _share([in_first_three(o) for o in unsuggested])
    report.no_suggestion = {
        "out_of_scope": configured["out_of_scope_silent"],
        "missing_intent": configured["missing_intent_silent"],
    }
    return report


async def evaluate(
    settings: Settings,
    catalog: SectorCatalog,
    embedder: Embedder,
    examples: list[Example],
    *,
    test_fraction: float = 0.3,
    missing_fraction: float = 0.15,
    seed: int = 13,
    calibrate: bool = True,
    reviews: list[Example] | None = None,
    reviews_split: str = "",
    progress: Callable[[str, int, int], None] = lambda stage, done, total: None,
) -> EvalReport:
    unknown = sorted({e.sector for e in examples if e.sector and catalog.get(e.sector) is None})
    if unknown:
        raise ConfigurationError(
            f"the data names sectors that are not configured: {', '.join(unknown)}"
        )
    history, questions = protocol(
        examples, test_fraction=test_fraction, missing_fraction=missing_fraction, seed=seed
    )
    stream = None
    if reviews_split == OWN_HISTORY:
        history, questions, stream = stream_from_history(history, questions, seed)
    elif reviews is not None:
        stream = review_stream(reviews, questions, seed)
    threshold = settings.effective_suggestion_threshold
    async with scratch_database(settings) as url:
        engine = create_engine(url, pool_size=4)
        try:
            await migrate.upgrade(engine, embedder.dim)
            sessions = session_factory(engine)
            await SectorRepository(sessions).sync(
                [(s.name, s.description) for s in catalog.sectors]
            )
            repository = RoutingRepository(sessions)
            by_id, vectors = await _load_history(repository, embedder, history, progress)
            router, maker = build_triage(
                settings, catalog, repository, embedder, threshold=threshold
            )
            if calibrate:
                # What `atende calibrate --apply` would store for this history.
                validated = [e for _, e in sorted(by_id.items())]  # in the vectors' order
                answers = [e.validated_answer for e in validated]
                projection, fitted = fit_calibration(
                    vectors,
                    answers,
                    temperature=maker.temperature,
                    model_id=embedder.model_id,
                    answer_texts=await embed_answer_texts(embedder, answers),
                    messages=[e.text for e in validated],
                )
                if fitted is not None:
                    maker.calibration.model = fitted
                    maker.calibration.projection = projection
            tally, joined = None, {}
            if stream is not None:
                tally, joined = await run_reviews(
                    settings,
                    catalog,
                    sessions,
                    embedder,
                    maker,
                    stream,
                    split=reviews_split,
                    refit=calibrate,
                    progress=progress,
                )
                by_id.update(joined)
            outcomes, embed_ms = await _ask(
                repository, router, maker, embedder, questions, progress
            )
        finally:
            await engine.dispose()
    report = summarise(
        outcomes, maker, by_id, history=len(history) + len(joined), embed_ms=embed_ms
    )
    report.seeds = [seed]
    if tally is not None:
        report.reviews = tally.as_json()
    return report


async def _load_history(
    repository: RoutingRepository,
    embedder: Embedder,
    history: list[Example],
    progress: Callable[[str, int, int], None],
    batch: int = 64,
) -> tuple[dict[int, Example], np.ndarray]:
    """The history stored as validated rows; its examples by row id, and its vectors in
    the order of those ids."""
    by_id: dict[int, Example] = {}
    vector_of: dict[int, list[float]] = {}
    for start in range(0, len(history), batch):
        part = history[start : start + batch]
        vectors = await embedder.embed([e.text for e in part])
        rows = [
            {
                "message": e.text,
                "answer": e.validated_answer,
                "sector": e.sector,
                "external_id": f"eval:{start + i}",
                "embedding": vector,
                "embedding_model": embedder.model_id,
            }
            for i, (e, vector) in enumerate(zip(part, vectors, strict=True))
        ]
        for interaction_id, key in await repository.insert_kb(rows):
            index = int(key.split(":")[1])
            by_id[interaction_id] = history[index]
            vector_of[interaction_id] = vectors[index - start]
        progress("history", min(start + batch, len(history)), len(history))
    matrix = np.asarray([vector_of[i] for i in sorted(vector_of)], dtype=np.float64)
    return by_id, matrix


async def _ask(
    repository: RoutingRepository,
    router: SectorRouter,
    maker: SuggestionMaker,
    embedder: Embedder,
    questions: list[Example],
    progress: Callable[[str, int, int], None],
    batch: int = 64,
) -> tuple[list[Outcome], float]:
    outcomes: list[Outcome] = []
    embed_seconds = 0.0
    for start in range(0, len(questions), batch):
        part = questions[start : start + batch]
        began = time.perf_counter()
        vectors = await embedder.embed([e.text for e in part])
        embed_seconds += time.perf_counter() - began
        for example, plain in zip(part, vectors, strict=True):
            began = time.perf_counter()
            # As the worker does: one shared search, then weighed and routed.
            vector = QueryVector(plain)
            nearby = await search_nearby(repository, router, maker, vector)
            triage = await triage_message(
                router, maker, example.text, vector, sector=None, nearby=nearby
            )
            decision = triage.decision
            assert decision is not None  # asked without a sector, so always routed
            seconds = time.perf_counter() - began
            outcomes.append(
                Outcome(example, decision.sector, decision.method, triage.assessment, seconds)
            )
        progress("questions", min(start + batch, len(questions)), len(questions))
    return outcomes, embed_seconds * 1000 / max(1, len(questions))
