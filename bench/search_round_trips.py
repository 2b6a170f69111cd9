"""The CPU a message's two pipeline searches cost, through atende's repository against
the same searches through an SQLAlchemy session (the baseline, in the same run).

Every message the worker triages searches twice: its nearest human-validated rows
(RoutingRepository.nearby, whose rows answer routing's and the suggestion's narrower
searches) and the rejected suggestions near it (rejected_near). atende sends each as one
statement on asyncpg, on a connection of the engine's pool that keeps its HNSW settings.
The baseline is how they were sent before: in a session, a BEGIN, a statement setting
the HNSW search for the transaction, the search and a COMMIT; and a BEGIN, the rejections'
query and a ROLLBACK. Both return the same rows (checked before measuring).

Setup: a throwaway database with atende's schema (its migrations, 384-d vectors; an
embedded PostgreSQL in a temp folder unless `--database-url`), `--rows` validated rows of
random unit vectors around 300 answers and a few rejected suggestions among them; the
queries are new vectors near the rows. Each way runs `--messages` queries, one at a time,
the two searches of a message side by side as the worker runs them, alternating `--rounds`
times. Figures a message: this process's CPU (Python and asyncpg), PostgreSQL's (its
processes), and wall time.

    python bench/search_round_trips.py [--rows 30000] [--messages 400] [--rounds 3]
        [--database-url postgresql://admin@host/db] [--seed 7]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from pathlib import Path
from typing import Any

import asyncpg
import numpy as np
from history import migrated_database, run_comparison
from machine import CostPerMessage, MachineWatch, describe_machine, postgres_pids
from sqlalchemy import text

from storage.database import create_engine, session_factory
from storage.neighbours import Nearby, Neighbour, Rejected
from storage.repositories import tune_vector_search
from storage.routing import RoutingRepository
from storage.vectors import QueryVector, vector_from_binary

MODEL = "bench-model"
LIMIT = 60  # the pipeline's nearby search: twice routing's 30 neighbours, the pool's 60
REJECTED_LIMIT = 20
FLOOR = 0.88

# The baseline's statements, as storage/routing.py sent them through a session (built
# once, as it kept them).
_NEARBY_SQL = text(
    "SELECT id, sector, answer, message, 1 - (embedding <=> CAST(:vector AS vector))"
    " AS similarity, vector_send(embedding) AS vector FROM chat_interactions"
    " WHERE embedding IS NOT NULL AND validated_by = 'human' AND embedding_model = :model"
    " AND id <> :exclude ORDER BY embedding <=> CAST(:vector AS vector) LIMIT :limit"
)
_REJECTED_SQL = text(
    "SELECT r.interaction_id, r.suggested_answer,"
    " 1 - (c.embedding <=> CAST(:vector AS vector)) AS similarity,"
    " vector_send(c.embedding) AS vector"
    " FROM suggestion_reviews r JOIN chat_interactions c ON c.id = r.interaction_id"
    " WHERE r.outcome = 'rejected' AND c.embedding IS NOT NULL"
    " AND c.embedding_model = :model AND 1 - (c.embedding <=> CAST(:vector AS vector)) >= :min"
    " ORDER BY similarity DESC LIMIT :limit"
)


def unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


async def load(dsn: str, rows: int, seed: int) -> np.ndarray:
    """Validated rows around 300 answers, one in 100 with a rejected suggestion; returns
    the rows' vectors."""
    rng = np.random.default_rng(seed)
    centres = unit(rng.normal(size=(300, 384)))
    answer_of = rng.integers(0, 300, size=rows)
    vectors = unit(centres[answer_of] + 0.01 * rng.normal(size=(rows, 384))).astype(np.float32)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("INSERT INTO sectors (name) VALUES ('geral') ON CONFLICT DO NOTHING")
        await conn.execute(
            "INSERT INTO chat_interactions (client_id, sector, message, answer, validated_by,"
            " embedding, embedding_model)"
            " SELECT gen_random_uuid(), 'geral', 'pergunta ' || a, 'resposta ' || a, 'human',"
            " CAST(e AS vector), $3"
            " FROM unnest($1::int[], $2::text[]) AS t(a, e)",
            answer_of.tolist(),
            [str(v.tolist()) for v in vectors],
            MODEL,
        )
        await conn.execute(
            "INSERT INTO suggestion_reviews (interaction_id, outcome, suggested_answer,"
            " final_answer, confidence, operator_name)"
            " SELECT id, 'rejected', 'resposta errada', NULL, 0.9, 'bench'"
            " FROM chat_interactions WHERE id % 100 = 0"
        )
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()
    return vectors


async def through_a_session(sessions: Any, vector: QueryVector) -> tuple[Nearby, list[Rejected]]:
    """The baseline: both searches through SQLAlchemy sessions, side by side."""

    async def nearby() -> Nearby:
        params = {"vector": vector.literal, "model": MODEL, "exclude": 0, "limit": LIMIT}
        async with sessions.begin() as session:
            await tune_vector_search(session, LIMIT, by_sector=False)
            rows = (await session.execute(_NEARBY_SQL, params)).all()
        found = [
            Neighbour(
                r.id,
                r.sector,
                r.answer,
                r.message,
                float(r.similarity),
                vector=vector_from_binary(r.vector),
            )
            for r in rows
        ]
        found.sort(key=lambda n: n.similarity, reverse=True)
        return Nearby(found, complete=len(found) < LIMIT, vectors=True)

    async def rejected() -> list[Rejected]:
        params = {"vector": vector.literal, "model": MODEL, "min": FLOOR, "limit": REJECTED_LIMIT}
        async with sessions() as session:
            rows = (await session.execute(_REJECTED_SQL, params)).all()
        return [
            Rejected(
                r.interaction_id,
                r.suggested_answer,
                float(r.similarity),
                vector_from_binary(r.vector),
            )
            for r in rows
        ]

    return await asyncio.gather(nearby(), rejected())


async def through_atende(
    repository: RoutingRepository, vector: QueryVector
) -> tuple[Nearby, list[Rejected]]:
    return await asyncio.gather(
        repository.nearby(vector, limit=LIMIT, model_id=MODEL, exclude_id=0, vectors=True),
        repository.rejected_near(
            vector, model_id=MODEL, limit=REJECTED_LIMIT, min_similarity=FLOOR
        ),
    )


async def measure(args: argparse.Namespace, folder: Path) -> None:
    async with migrated_database(args.database_url, folder) as dsn:
        started = time.perf_counter()
        vectors = await load(dsn, args.rows, args.seed)
        print(f"{args.rows} validated rows loaded in {time.perf_counter() - started:.1f} s")
        rng = np.random.default_rng(args.seed + 1)
        asked = unit(
            vectors[rng.integers(0, len(vectors), size=args.messages)]
            + 0.01 * rng.normal(size=(args.messages, 384))
        )
        queries = [QueryVector(row.tolist()) for row in asked]
        engine = create_engine(dsn.replace("postgresql://", "postgresql+asyncpg://", 1))
        sessions = session_factory(engine)
        repository = RoutingRepository(sessions)
        ways = {
            "through a session (baseline)": lambda q: through_a_session(sessions, q),
            "atende (one statement each)": lambda q: through_atende(repository, q),
        }
        try:
            # Both ways find the same rows, the rejected ones among them.
            rejected_seen = 0
            for query in queries[:50]:
                (a, ra), (b, rb) = [await way(query) for way in ways.values()]
                assert [n.id for n in a.neighbours] == [n.id for n in b.neighbours]
                assert [r.interaction_id for r in ra] == [r.interaction_id for r in rb]
                rejected_seen += len(rb)
            print(f"the same rows both ways for 50 messages ({rejected_seen} rejections near)")
            postmaster = postgres_pids(folder, args.database_url is not None)
            costs = CostPerMessage(postmaster)
            watch = MachineWatch({"bench": lambda: [os.getpid()], "postgres": postmaster})
            watch.start()
            for _ in range(args.rounds):
                for name, way in ways.items():

                    async def run(way: Any = way) -> None:
                        for query in queries:
                            await way(query)

                    await costs.measure(name, len(queries), run)
            machine = await watch.stop()
        finally:
            await engine.dispose()
    print("\n" + costs.heading(args.messages))
    for name in ways:
        print(costs.line(name))
    base, new = ways
    saved = sum(costs.median(base, k) - costs.median(new, k) for k in ("python", "postgres"))
    print(
        f"  saved: {saved:.2f} ms of CPU a message, {saved * 50 / 1000:.2f} cores at 50 messages/s"
    )
    print("  " + describe_machine(machine))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=30_000)
    run_comparison(parser, measure)


if __name__ == "__main__":
    main()
