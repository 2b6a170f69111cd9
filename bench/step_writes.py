"""The CPU it costs to write a batch's pipeline results, in one statement for the batch
(storage/step_writes.py) against one UPDATE a row through SQLAlchemy (the
baseline, in the same run).

The embedding worker writes each new message's vector with its routing and suggestion,
in the transaction that claimed the batch (gateway.services.pipeline). It wrote one
UPDATE a row, built by SQLAlchemy's `update()` with the row's values and returning its
receipt-to-done milliseconds; it now writes one statement for the batch, from an array
per column. Both leave the rows alike (checked before measuring).

Setup: a throwaway database with atende's schema (its migrations, 384-d vectors; an
embedded PostgreSQL in a temp folder unless `--database-url`), `--history` validated
rows (so that each new vector goes into an HNSW index of that size, as in production)
and, for every batch written, new rows without a vector. Each way writes `--messages`
rows a round in batches of each `--batch` size, one transaction a batch, for `--rounds`
rounds, each way first in every other round. A third of the rows get a suggestion, as in
the latency bench. Figures a message: this process's CPU (Python and asyncpg),
PostgreSQL's (its processes), wall.

    python bench/step_writes.py [--history 30000] [--messages 400] [--batch 1,4]
        [--rounds 3] [--database-url postgresql://admin@host/db] [--seed 7]
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import asyncpg
import numpy as np
from history import migrated_database, run_comparison
from machine import CostPerMessage, MachineWatch, describe_machine, postgres_pids
from pgvector.sqlalchemy import Vector
from sqlalchemy import Text, cast, func, literal, update

from storage.database import create_engine, session_factory
from storage.models import ChatInteraction
from storage.step_writes import StepWrite, write_steps
from storage.vectors import QueryVector

MODEL = "bench-model"
_ROWS = ChatInteraction.__table__
# What a suggestion stores, about the size of atende's (gateway.services.suggestions).
SUGGESTION = {
    "method": "retrieval",
    "confidence": 0.91,
    "similarity": 0.93,
    "source_ids": [101, 202, 303],
    "evidence": {"share": 0.8, "margin": 0.04, "support": 5, "score": 0.7, "lead": 0.2},
    "auto_send": False,
}
ANSWER = "Para pagar um boleto vencido, gere a segunda via no app em Pedidos > Pagamentos."


def unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


async def load(dsn: str, history: int, new: int, seed: int) -> list[int]:
    """`history` validated rows with vectors and `new` rows without; returns the new ids."""
    rng = np.random.default_rng(seed)
    vectors = unit(rng.normal(size=(history, 384))).astype(np.float32)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "INSERT INTO sectors (name) VALUES ('geral'), ('financeiro') ON CONFLICT DO NOTHING"
        )
        await conn.execute(
            "INSERT INTO chat_interactions (client_id, sector, message, answer, validated_by,"
            " embedding, embedding_model)"
            " SELECT gen_random_uuid(), 'geral', 'pergunta', 'resposta', 'human',"
            " CAST(e AS vector), $2 FROM unnest($1::text[]) AS t(e)",
            [str(v.tolist()) for v in vectors],
            MODEL,
        )
        ids = await conn.fetch(
            "INSERT INTO chat_interactions (client_id, message)"
            " SELECT gen_random_uuid(), 'Meu boleto venceu ontem, como faço para pagar?'"
            " FROM generate_series(1, $1) RETURNING id",
            new,
        )
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()
    return sorted(r["id"] for r in ids)


def results(ids: Sequence[int], rng: np.random.Generator) -> list[dict[str, Any]]:
    """What a triage writes for each row: its vector, its sector, and for a third a
    suggestion."""
    out = []
    for i, _ in enumerate(ids):
        values: dict[str, Any] = {
            "embedding": QueryVector(unit(rng.normal(size=(1, 384)))[0]),
            "embedding_model": MODEL,
            "embed_error": None,
            "sector": "financeiro",
            "route_confidence": 0.82,
            "route_reason": {"method": "knn", "votes": {"financeiro": 0.82, "geral": 0.18}},
        }
        if i % 3 == 0:
            values.update(answer=ANSWER, validated_by="ai", suggestion=SUGGESTION)
        out.append(values)
    return out


async def row_by_row(sessions: Any, batch: Sequence[tuple[int, dict[str, Any]]]) -> None:
    """The baseline: one UPDATE a row, as storage/routing.py's finish_pipeline wrote it."""
    async with sessions.begin() as session:
        for interaction_id, values in batch:
            sent = {
                **values,
                "embedding": cast(literal(values["embedding"].literal, Text()), Vector()),
            }
            elapsed = func.extract("epoch", func.clock_timestamp() - _ROWS.c.created_at) * 1000
            result = await session.execute(
                update(_ROWS)
                .where(_ROWS.c.id == interaction_id)
                .values(**sent, pipeline_done_at=func.now(), pipeline_ms=elapsed)
                .returning(_ROWS.c.pipeline_ms)
            )
            float(result.scalar_one())


async def one_statement(sessions: Any, batch: Sequence[tuple[int, dict[str, Any]]]) -> None:
    async with sessions.begin() as session:
        await write_steps(session, [StepWrite(i, values, done=True) for i, values in batch])


_STATE = (
    "SELECT sector, route_confidence, route_reason, answer, validated_by, suggestion,"
    " embedding::text, embedding_model, embed_error, pipeline_done_at IS NOT NULL,"
    " pipeline_ms > 0, pipeline_attempts FROM chat_interactions WHERE id = $1"
)


async def measure(args: argparse.Namespace, folder: Path) -> None:
    sizes = [int(s) for s in args.batch.split(",")]
    ways = {"one UPDATE a row (baseline)": row_by_row, "atende (one for the batch)": one_statement}
    needed = args.messages * args.rounds * len(ways) * len(sizes) + 2 * 30
    async with migrated_database(args.database_url, folder) as dsn:
        started = time.perf_counter()
        fresh = iter(await load(dsn, args.history, needed, args.seed))
        print(
            f"{args.history} validated rows and {needed} new ones loaded "
            f"in {time.perf_counter() - started:.1f} s"
        )
        rng = np.random.default_rng(args.seed + 1)
        engine = create_engine(dsn.replace("postgresql://", "postgresql+asyncpg://", 1))
        sessions = session_factory(engine)
        try:
            # Both ways leave the rows alike: 30 rows each, the same values, batches of 4.
            pairs = [next(fresh) for _ in range(60)]
            values = results(pairs[:30], rng)
            for way, ids in zip(ways.values(), (pairs[:30], pairs[30:]), strict=True):
                for start in range(0, 30, 4):
                    await way(sessions, list(zip(ids, values, strict=True))[start : start + 4])
            conn = await asyncpg.connect(dsn)
            try:
                for a, b in zip(pairs[:30], pairs[30:], strict=True):
                    assert tuple(await conn.fetchrow(_STATE, a)) == tuple(
                        await conn.fetchrow(_STATE, b)
                    )
            finally:
                await conn.close()
            print("both ways leave 30 rows alike (vector, sector, suggestion, done, ms)")

            postmaster = postgres_pids(folder, args.database_url is not None)
            costs = CostPerMessage(postmaster)
            watch = MachineWatch({"bench": lambda: [os.getpid()], "postgres": postmaster})
            watch.start()
            for round_ in range(args.rounds):
                for size in sizes:
                    # Every write grows the HNSW indexes, and a bigger index costs more
                    # to write to: each way goes first in every other round.
                    order = list(ways.items())[:: -1 if round_ % 2 else 1]
                    for name, way in order:
                        ids = [next(fresh) for _ in range(args.messages)]
                        rows = list(zip(ids, results(ids, rng), strict=True))

                        async def run(way: Any = way, rows: Any = rows, size: int = size) -> None:
                            for start in range(0, len(rows), size):
                                await way(sessions, rows[start : start + size])

                        await costs.measure(f"{name}, {size}", len(rows), run)
            machine = await watch.stop()
        finally:
            await engine.dispose()
    print("\n" + costs.heading(args.messages))
    for size in sizes:
        print(f" batches of {size}:")
        for name in ways:
            print(costs.line(f"{name}, {size}", width=33))
        base, new = (f"{name}, {size}" for name in ways)
        saved = {k: costs.median(base, k) - costs.median(new, k) for k in ("python", "postgres")}
        print(
            f"  saved: {saved['python']:.2f} ms of this process's CPU and "
            f"{saved['postgres']:.2f} of PostgreSQL's a message, "
            f"{sum(saved.values()) * 50 / 1000:.3f} cores at 50 messages/s"
        )
    print("  " + describe_machine(machine))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--history", type=int, default=30_000)
    parser.add_argument("--batch", default="1,4", help="batch sizes, comma-separated")
    run_comparison(parser, measure)


if __name__ == "__main__":
    main()
