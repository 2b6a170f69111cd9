"""The pipeline's searches go to asyncpg directly, one statement each, on connections
of the engine's pool (storage/routing.py): the HNSW settings they need stay in force on
those connections, and a connection that breaks under one is dropped like any other."""

from __future__ import annotations

import asyncpg
import numpy as np
import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import create_async_engine

from storage.database import driver_connection, session_factory
from storage.repositories import MessageRepository
from storage.routing import RoutingRepository
from tests.test_sector_indexes import MODEL, load


async def test_validated_rows_behind_many_waiting_ones_are_found_on_every_connection(
    db_url: str,
) -> None:
    # One pooled connection, so the searches below share it with a search that sets
    # other HNSW settings for its own transaction. A table this small would be read
    # whole: without sequential scans the planner walks the index, as on a large history.
    engine = create_async_engine(
        db_url,
        pool_size=1,
        max_overflow=0,
        connect_args={"server_settings": {"enable_seqscan": "off"}},
    )
    try:
        centre = (await load(engine, {"financeiro": 5}))[0]
        rng = np.random.default_rng(5)
        # Far more rows waiting for an operator than a candidate list holds, all nearer
        # the question than any validated row: a walk that stopped at its list would
        # find only them, and keep none.
        waiting = [str((centre + 0.02 * rng.normal(size=384)).tolist()) for _ in range(300)]
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO chat_interactions (client_id, message, validated_by,"
                    " embedding, embedding_model)"
                    " SELECT gen_random_uuid(), 'pergunta', 'pending', CAST(e AS vector), :model"
                    " FROM unnest(CAST(:e AS text[])) AS t(e)"
                ),
                {"e": waiting, "model": MODEL},
            )
        sessions = session_factory(engine)
        routing = RoutingRepository(sessions)
        for _ in range(3):
            neighbours = await routing.validated_neighbours(
                centre.tolist(), limit=5, model_id=MODEL
            )
            assert len(neighbours) == 5
            assert {n.sector for n in neighbours} == {"financeiro"}
            await MessageRepository(sessions).search(
                centre.tolist(), limit=3, min_similarity=-1.0, sector="financeiro", model_id=MODEL
            )
    finally:
        await engine.dispose()


async def test_a_connection_that_breaks_under_a_search_is_dropped_and_said_so(
    db_url: str, pg_admin
) -> None:
    engine = create_async_engine(db_url, pool_size=1, max_overflow=0)
    try:
        centre = (await load(engine, {"financeiro": 5}))[0].tolist()
        routing = RoutingRepository(session_factory(engine))
        assert len(await routing.validated_neighbours(centre, limit=5, model_id=MODEL)) == 5

        async def query_through_a_restart() -> None:
            async with driver_connection(engine) as conn:
                pid = await conn.fetchval("SELECT pg_backend_pid()")
                # As a restart or a failover would, with the connection checked out.
                await pg_admin(f"SELECT pg_terminate_backend({pid}, 5000)")
                await conn.fetchval("SELECT 1")

        with pytest.raises(OperationalError) as raised:
            await query_through_a_restart()
        assert raised.value.connection_invalidated
        # The pool's one connection was replaced: the next search simply works.
        assert len(await routing.validated_neighbours(centre, limit=5, model_id=MODEL)) == 5
    finally:
        await engine.dispose()


async def test_a_statement_misused_on_a_sound_connection_is_raised_as_the_bug_it_is(
    db_url: str,
) -> None:
    engine = create_async_engine(db_url, pool_size=1, max_overflow=0)
    try:

        async def misuse() -> None:
            async with driver_connection(engine) as conn:
                await conn.fetchval("SELECT $1::int")  # its argument left out

        with pytest.raises(asyncpg.InterfaceError, match="expects 1 argument"):
            await misuse()
        async with driver_connection(engine) as conn:
            assert await conn.fetchval("SELECT 1") == 1
    finally:
        await engine.dispose()
