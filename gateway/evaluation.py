"""`atende eval`: how well routing and suggestions do on labelled data.

The data is split with a fixed seed, stratified by label (intent, else sector). One
part is loaded into a scratch database as human-validated history; every message of
the other part is routed and given a suggestion by the same SectorRouter and
SuggestionMaker the worker uses, and the result is compared with its labels.

The scratch database is created on the configured server (or the embedded one) under
a fresh name and dropped at the end, so the user's data is never touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import json
import random
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from config.sectors import SectorCatalog
from config.settings import Settings
from gateway.embeddings import Embedder
from gateway.errors import ConfigurationError
from gateway.services.pipeline import build_triage
from gateway.services.routing import SectorRouter
from gateway.services.suggestions import Candidate, SuggestionMaker
from storage import migrate
from storage.database import create_engine, session_factory
from storage.embedded import EmbeddedPostgres
from storage.repositories import SectorRepository
from storage.routing import RoutingRepository

SWEEP = (0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.84, 0.88, 0.9, 0.92, 0.94, 0.96)


@dataclass(frozen=True)
class Example:
    text: str
    sector: str | None
    intent: str | None
    answer: str | None

    @property
    def label(self) -> str:
        return self.intent or self.sector or ""


def load_examples(path: Path, sector_map: dict[str, str] | None = None) -> list[Example]:
    """CSV (text or instruction, intent, sector or a map of intents, answer or response)
    or JSONL (text, sector and/or intent, answer)."""
    sector_map = sector_map or {}
    records: list[dict[str, Any]]
    if path.suffix.lower() in {".jsonl", ".ndjson"}:
        with path.open(encoding="utf-8") as handle:
            records = [json.loads(line) for line in handle if line.strip()]
    else:
        with path.open(encoding="utf-8", newline="") as handle:
            records = list(csv.DictReader(handle))
    examples = []
    for record in records:
        message = str(record.get("text") or record.get("instruction") or "").strip()
        intent = str(record.get("intent") or "").strip() or None
        sector = str(record.get("sector") or "").strip() or None
        if sector is None and intent is not None:
            sector = sector_map.get(intent)
        answer = str(record.get("answer") or record.get("response") or "").strip() or None
        if message and (intent or sector):
            examples.append(Example(message, sector, intent, answer))
    if not examples:
        raise ConfigurationError(f"{path}: no labelled rows (text with a sector or intent)")
    return examples


def stratified_split(
    examples: list[Example], test_fraction: float, seed: int
) -> tuple[list[Example], list[Example]]:
    """History and questions, each label split in the same proportion; fixed by `seed`."""
    by_label: dict[str, list[Example]] = defaultdict(list)
    for example in examples:
        by_label[example.label].append(example)
    rng = random.Random(seed)
    history, questions = [], []
    for label in sorted(by_label):
        group = by_label[label][:]
        rng.shuffle(group)
        asked = round(len(group) * test_fraction) if len(group) > 1 else 0
        questions += group[:asked]
        history += group[asked:]
    return history, questions


@contextlib.asynccontextmanager
async def scratch_database(settings: Settings) -> AsyncIterator[str]:
    """A new, empty database on the configured (or embedded) server, dropped afterwards."""
    embedded = None
    server = settings.async_database_url
    if server is None:
        embedded = EmbeddedPostgres(settings.data_dir)
        server = await asyncio.to_thread(embedded.start)
    name = f"atende_eval_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(server, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(server).set(database=name).render_as_string(hide_password=False)
        finally:
            async with admin.connect() as conn:
                await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)


@dataclass
class Outcome:
    example: Example
    predicted_sector: str | None
    route_method: str | None
    candidates: list[Candidate]
    seconds: float


@dataclass
class EvalReport:
    history: int
    questions: int
    threshold: float
    model_id: str
    sector_accuracy: float | None = None
    confusion: dict[str, dict[str, int]] = field(default_factory=dict)
    route_methods: dict[str, int] = field(default_factory=dict)
    top1: float | None = None
    coverage: float = 0.0
    precision: float | None = None
    sweep: list[dict[str, float | None]] = field(default_factory=list)
    latency_ms: dict[str, float] = field(default_factory=dict)
    embed_ms_per_message: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _correct(asked: Example, source: Example) -> bool:
    """Same intent when both have one, else the same answer (ignoring case and spacing)."""
    if asked.intent is not None and source.intent is not None:
        return asked.intent == source.intent
    if asked.answer is None or source.answer is None:
        return False
    return " ".join(asked.answer.split()).lower() == " ".join(source.answer.split()).lower()


def summarise(
    outcomes: list[Outcome],
    maker: SuggestionMaker,
    by_id: dict[int, Example],
    *,
    history: int,
    embed_ms: float,
) -> EvalReport:
    threshold = maker.threshold
    report = EvalReport(
        history=history,
        questions=len(outcomes),
        threshold=threshold,
        model_id=maker.model_id,
        embed_ms_per_message=round(embed_ms, 2),
    )
    routed = [o for o in outcomes if o.example.sector is not None]
    if routed:
        report.sector_accuracy = sum(o.predicted_sector == o.example.sector for o in routed) / len(
            routed
        )
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
    if not any(o.example.intent or o.example.answer for o in outcomes):
        # Sectors only: nothing says whether a suggested answer is right.
        return report
    # Top-1: what would be suggested with no threshold at all, for every asked message.
    top = [(o, maker.choose(o.candidates, threshold=-1.0)) for o in outcomes]
    report.top1 = sum(
        s is not None and _correct(o.example, by_id[s.source_ids[0]]) for o, s in top
    ) / len(outcomes)
    for cut in sorted({*SWEEP, threshold}):
        chosen = [(o, maker.choose(o.candidates, threshold=cut)) for o in outcomes]
        made = [(o, by_id[s.source_ids[0]]) for o, s in chosen if s is not None]
        precision = sum(_correct(o.example, src) for o, src in made) / len(made) if made else None
        row = {"threshold": cut, "coverage": len(made) / len(outcomes), "precision": precision}
        report.sweep.append(row)
        if cut == threshold:
            report.coverage, report.precision = row["coverage"], precision
    return report


async def evaluate(
    settings: Settings,
    catalog: SectorCatalog,
    embedder: Embedder,
    examples: list[Example],
    *,
    test_fraction: float = 0.3,
    seed: int = 13,
    progress: Callable[[str, int, int], None] = lambda stage, done, total: None,
) -> EvalReport:
    unknown = sorted({e.sector for e in examples if e.sector and catalog.get(e.sector) is None})
    if unknown:
        raise ConfigurationError(
            f"the data names sectors that are not configured: {', '.join(unknown)}"
        )
    history, questions = stratified_split(examples, test_fraction, seed)
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
            by_id = await _load_history(repository, embedder, history, progress)
            router, maker = build_triage(
                settings, catalog, repository, embedder, threshold=threshold
            )
            outcomes, embed_ms = await _ask(router, maker, embedder, questions, progress)
        finally:
            await engine.dispose()
    return summarise(outcomes, maker, by_id, history=len(history), embed_ms=embed_ms)


async def _load_history(
    repository: RoutingRepository,
    embedder: Embedder,
    history: list[Example],
    progress: Callable[[str, int, int], None],
    batch: int = 64,
) -> dict[int, Example]:
    by_id: dict[int, Example] = {}
    for start in range(0, len(history), batch):
        part = history[start : start + batch]
        vectors = await embedder.embed([e.text for e in part])
        rows = [
            {
                "message": e.text,
                "answer": e.answer or f"[{e.label}]",
                "sector": e.sector,
                "external_id": f"eval:{start + i}",
                "embedding": vector,
                "embedding_model": embedder.model_id,
            }
            for i, (e, vector) in enumerate(zip(part, vectors, strict=True))
        ]
        for interaction_id, key in await repository.insert_kb(rows):
            by_id[interaction_id] = history[int(key.split(":")[1])]
        progress("history", min(start + batch, len(history)), len(history))
    return by_id


async def _ask(
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
        for example, vector in zip(part, vectors, strict=True):
            began = time.perf_counter()
            decision = await router.route(example.text, vector)
            ranked = await maker.candidates(vector, decision.sector)
            seconds = time.perf_counter() - began
            outcomes.append(
                Outcome(
                    example,
                    decision.sector,
                    decision.method,
                    ranked,
                    seconds,
                )
            )
        progress("questions", min(start + batch, len(questions)), len(questions))
    return outcomes, embed_seconds * 1000 / max(1, len(questions))
