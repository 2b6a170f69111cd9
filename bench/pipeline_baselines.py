"""The baselines of pipeline_latency.py, measured in the same run before the gateway
starts: atende's embedder on one text (the floor any pipeline pays per message) and on
batches, one kNN query alone (as SuggestionMaker asks it, with and without a sector, and
the plans PostgreSQL chose), one row's UPDATE with its vector against one of a column no
index covers, and atende's own routing + suggestion of one already-embedded message."""

from __future__ import annotations

import os
import statistics
import time

import asyncpg
import numpy as np
from machine import MachineWatch, describe_machine
from pipeline_report import pct, spread

KNN_SQL = """
    SELECT id, sector, answer, message, 1 - (embedding <=> $1) AS similarity
    FROM chat_interactions
    WHERE embedding IS NOT NULL AND validated_by = 'human' AND embedding_model = $2
      AND length(btrim(answer)) > 0 {sector}
    ORDER BY embedding <=> $1 LIMIT 5"""  # what SuggestionMaker asks validated_neighbours


async def measure_baselines(dsn: str, embedder, probes, probe_vectors: np.ndarray) -> None:
    """Every baseline, measured in this process before the gateway starts, and printed."""
    print("\nbaselines (this process, before the gateway starts):")
    watch = MachineWatch({"bench": lambda: [os.getpid()]})
    watch.start()
    embed_times = await embed_baseline(embedder, [p.message for p in probes[:50]])
    knn_times, plans = await knn_baseline(
        dsn, probe_vectors[:100], [p.sector for p in probes[:100]], embedder.model_id
    )
    triage_times, calibrated = await triage_baseline(
        dsn, embedder, probe_vectors[:100], [p.message for p in probes[:100]]
    )
    machine = await watch.stop()
    one = embed_times["1"]
    print(f"  atende's embedder, 1 text             {spread(one)}  (n={len(one)})")
    for size in ("8", "32"):
        per = statistics.median(embed_times[size])
        print(
            f"  atende's embedder, batch of {size:>2}        median {per:7.1f} ms per batch, "
            f"{per / int(size):.1f} ms per text"
        )
    print(f"  kNN alone (k=5, asyncpg, prepared)    {spread(knn_times['plain'])}")
    print(f"  kNN alone, one sector                 {spread(knn_times['sector'])}")
    print(f"  UPDATE one vector (non-HOT, HNSW too) {spread(knn_times['update vector'])}")
    print(f"  UPDATE one row, unindexed column      {spread(knn_times['update other'])}")
    print(
        f"  atende route + suggest, 1 message     {spread(triage_times)}  "
        "(one nearest-rows search, more when it cannot tell; "
        + ("under the stored calibration)" if calibrated else "uncalibrated)")
    )
    floor = pct(one, 50) + pct(triage_times, 50)
    print(f"  floor per message (embed 1 + route/suggest, p50s): {floor:.1f} ms")
    print("  " + describe_machine(machine))
    for name, plan in zip(("kNN plan", "kNN plan, one sector"), plans, strict=True):
        keep = ("Scan", "Sort", "Limit", "Filter", "Execution")
        print(
            f"  {name}: "
            + " | ".join(line.strip() for line in plan if any(k in line for k in keep))
        )


async def embed_baseline(embedder, texts: list[str]) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"1": [], "8": [], "32": []}
    for text in texts:
        started = time.perf_counter()
        await embedder.embed([text])
        out["1"].append((time.perf_counter() - started) * 1000)
    for size in (8, 32):
        for i in range(3):
            chunk = (texts * 4)[i * size : (i + 1) * size]
            started = time.perf_counter()
            await embedder.embed(chunk)
            out[str(size)].append((time.perf_counter() - started) * 1000)
    return out


async def knn_baseline(dsn: str, vectors: np.ndarray, sectors: list[str], model_id: str):
    from pgvector.asyncpg import register_vector

    conn = await asyncpg.connect(dsn)
    try:
        await register_vector(conn)
        await conn.execute("SET hnsw.iterative_scan = relaxed_order")
        await conn.execute("SET hnsw.ef_search = 40")
        plain = await conn.prepare(KNN_SQL.format(sector=""))
        by_sector = await conn.prepare(KNN_SQL.format(sector="AND sector = $3"))
        plans = []
        shapes = ((KNN_SQL.format(sector=""), ()),
                  (KNN_SQL.format(sector="AND sector = $3"), (sectors[0],)))  # fmt: skip
        for statement, extra in shapes:
            rows = await conn.fetch(
                "EXPLAIN (ANALYZE, COSTS OFF) " + statement, vectors[0], model_id, *extra
            )
            plans.append([r[0] for r in rows])
        times: dict[str, list[float]] = {"plain": [], "sector": []}
        for vector, sector in zip(vectors, sectors, strict=True):
            started = time.perf_counter()
            await plain.fetch(vector, model_id)
            times["plain"].append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            await by_sector.fetch(vector, model_id, sector)
            times["sector"].append((time.perf_counter() - started) * 1000)
        times.update(await update_baseline(conn, vectors, model_id))
        return times, plans
    finally:
        await conn.close()


async def update_baseline(conn, vectors: np.ndarray, model_id: str) -> dict[str, list[float]]:
    """One row's UPDATE as the embedding worker writes it (the vector, so a new entry in
    the HNSW index of the whole table) against an UPDATE of a column no index covers; on
    throwaway rows, deleted afterwards so that no worker ever sees them."""
    ids = [
        r["id"]
        for r in await conn.fetch(
            "INSERT INTO chat_interactions (client_id, message, channel_account, external_id) "
            "SELECT gen_random_uuid(), 'probe', 'bench-probe', 'p' || g "
            "FROM generate_series(1, $1) g RETURNING id",
            len(vectors),
        )
    ]
    times: dict[str, list[float]] = {"update vector": [], "update other": []}
    try:
        for row_id, vector in zip(ids, vectors, strict=True):
            started = time.perf_counter()
            await conn.execute(
                "UPDATE chat_interactions SET embedding = $1, embedding_model = $2 WHERE id = $3",
                vector, model_id, row_id,
            )  # fmt: skip
            times["update vector"].append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            await conn.execute(
                "UPDATE chat_interactions SET embed_error = 'x' WHERE id = $1", row_id
            )
            times["update other"].append((time.perf_counter() - started) * 1000)
    finally:
        await conn.execute("DELETE FROM chat_interactions WHERE id = ANY($1::bigint[])", ids)
    return times


async def triage_baseline(dsn: str, embedder, vectors: np.ndarray, texts: list[str]):
    """atende's own SectorRouter.route + SuggestionMaker.suggest for one embedded message,
    as PipelineWorker.process calls them (without the claim, the UPDATE and the commit),
    under the calibration `atende calibrate --apply` stored, if any, as the gateway reads it."""
    from config.sectors import load_sectors
    from config.settings import Settings
    from gateway.services.calibration import load_calibration
    from gateway.services.triage import build_triage, search_nearby, triage_message
    from storage.database import create_engine, session_factory
    from storage.repositories import MetaRepository
    from storage.routing import RoutingRepository
    from storage.vectors import QueryVector

    settings = Settings(_env_file=None, database_url=dsn)
    engine = create_engine(settings.async_database_url)
    try:
        sessions = session_factory(engine)
        repository = RoutingRepository(sessions)
        router, suggestions = build_triage(
            settings, load_sectors(settings.sectors_file), repository, embedder,
            threshold=settings.effective_suggestion_threshold,
        )  # fmt: skip
        meta = MetaRepository(sessions)
        suggestions.calibration = await load_calibration(meta, embedder.model_id)
        await router.route(texts[0], vectors[0].tolist())  # embeds the sectors' examples once
        times: list[float] = []
        for text, vector in zip(texts, vectors, strict=True):
            started = time.perf_counter()
            query = QueryVector(vector)
            nearby = await search_nearby(repository, router, suggestions, query)
            triage = await triage_message(
                router, suggestions, text, query, sector=None, nearby=nearby
            )
            assert triage.decision is not None
            await suggestions.suggest(
                triage.ranked, triage.assessment, triage.decision.sector, text=text
            )
            times.append((time.perf_counter() - started) * 1000)
        return times, suggestions.calibration.projection is not None
    finally:
        await engine.dispose()
