"""Each configured sector gets its own HNSW index, and searches within a sector use it."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from gateway.http import keys
from storage import sector_indexes
from storage.database import session_factory
from storage.repositories import MessageRepository, SectorRepository
from storage.routing import RoutingRepository

SECTORS = ["financeiro", "vendas", "admin"]
MODEL = "test-model"


async def load(engine: AsyncEngine, per_sector: dict[str, int], seed: int = 3) -> np.ndarray:
    """Rows of random unit vectors around one centre per sector; returns the centres."""
    await SectorRepository(session_factory(engine)).sync([(s, "") for s in per_sector])
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(len(per_sector), 384))
    sectors, vectors = [], []
    for centre, (sector, count) in zip(centres, per_sector.items(), strict=True):
        for _ in range(count):
            vector = centre + rng.normal(size=384)
            sectors.append(sector)
            vectors.append(str((vector / np.linalg.norm(vector)).tolist()))
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO chat_interactions (client_id, sector, message, answer,"
                " validated_by, embedding, embedding_model)"
                " SELECT gen_random_uuid(), s, 'pergunta', 'resposta', 'human',"
                " CAST(e AS vector), :model"
                " FROM unnest(CAST(:s AS text[]), CAST(:e AS text[])) AS t(s, e)"
            ),
            {"s": sectors, "e": vectors, "model": MODEL},
        )
        await conn.execute(text("ANALYZE chat_interactions"))
    return centres / np.linalg.norm(centres, axis=1, keepdims=True)


async def indexes(engine: AsyncEngine) -> dict[str, bool]:
    async with engine.connect() as conn:
        return {i.sector: i.valid for i in await sector_indexes.existing_indexes(conn)}


async def index_scans(url: str) -> dict[str, int]:
    """Index scans so far, after the backends that ran them have exited (and so
    reported their counts)."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT pg_stat_clear_snapshot()"))
            rows = await conn.execute(
                text(
                    "SELECT indexrelname, idx_scan FROM pg_stat_user_indexes"
                    " WHERE relname = 'chat_interactions'"
                )
            )
            return dict(rows.all())
    finally:
        await engine.dispose()


async def test_the_gateway_indexes_every_configured_sector_at_start(client) -> None:
    engine = client.app[keys.ENGINE]
    configured = client.app[keys.SECTORS].names
    assert await indexes(engine) == dict.fromkeys(configured, True)
    async with engine.connect() as conn:
        definition = await conn.scalar(
            text("SELECT pg_get_indexdef(CAST(:name AS regclass))"),
            {"name": sector_indexes.index_name("financeiro")},
        )
    assert "USING hnsw (embedding vector_cosine_ops) WHERE (sector = 'financeiro'::text)" in (
        definition or ""
    )


async def test_searches_within_a_sector_use_its_index_every_time(db_url: str) -> None:
    engine = create_async_engine(db_url)
    try:
        centres = await load(engine, {"financeiro": 600, "vendas": 500, "admin": 40})
        assert await sector_indexes.ensure_small(engine, SECTORS) == []
        sessions = session_factory(engine)
        # Asked about financeiro, within admin: the case the shared graph handles worst.
        query = centres[0].tolist()
        # More runs than the five after which a prepared statement may get a generic plan.
        for _ in range(8):
            found = await MessageRepository(sessions).search(
                query, limit=10, min_similarity=-1.0, sector="admin", model_id=MODEL
            )
            assert len(found) == 10
            assert {s.interaction.sector for s in found} == {"admin"}
            neighbours = await RoutingRepository(sessions).validated_neighbours(
                query, limit=5, model_id=MODEL, sector="admin"
            )
            assert {n.sector for n in neighbours} == {"admin"}
    finally:
        await engine.dispose()
    admin = sector_indexes.index_name("admin")
    deadline = asyncio.get_running_loop().time() + 10
    while (scans := await index_scans(db_url)).get(admin, 0) < 16:
        assert asyncio.get_running_loop().time() < deadline, scans
        await asyncio.sleep(0.2)
    assert scans[admin] == 16
    assert scans["ix_chat_interactions_embedding"] == 0


async def test_a_large_sector_is_built_in_the_background_and_an_invalid_one_rebuilt(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sector_indexes, "BUILD_AT_ONCE_ROWS", 100)
    engine = create_async_engine(db_url)
    try:
        await load(engine, {"financeiro": 300, "vendas": 50, "admin": 20})
        assert await sector_indexes.ensure_small(engine, SECTORS) == ["financeiro"]
        assert await indexes(engine) == {"vendas": True, "admin": True}

        await sector_indexes.build_in_background(engine, ["financeiro"])
        assert await indexes(engine) == dict.fromkeys(SECTORS, True)

        # What a build interrupted by a crash leaves behind: an index marked invalid.
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "UPDATE pg_index SET indisvalid = false"
                    " WHERE indexrelid = CAST(:name AS regclass)"
                ),
                {"name": sector_indexes.index_name("admin")},
            )
        assert (await indexes(engine))["admin"] is False
        assert await sector_indexes.ensure_small(engine, SECTORS) == []
        assert await indexes(engine) == dict.fromkeys(SECTORS, True)
    finally:
        await engine.dispose()


def test_sector_index_names_are_unique_and_fit_postgresql() -> None:
    names = {sector_indexes.index_name(n) for n in ("a-b", "a_b", "x" * 63, "x" * 62 + "y")}
    assert len(names) == 4
    assert all(len(name) <= 63 for name in names)
    with pytest.raises(ValueError, match="not a sector name"):
        sector_indexes.create_sql("admin' OR true --", concurrently=False)
