"""One HNSW index per configured sector, beside the index over every message.

Why: a search filtered to a sector walks the shared graph and keeps that sector's rows.
For a sector with few rows, searched about something else, the walk gives up at
`hnsw.max_scan_tuples` before it reaches them (bench/search.py at 1M rows: recall@10
0.32 for a 5% sector). A partial index holds only the sector's rows, so its walk starts
among them. The planner picks a partial index only when it sees the sector's value, so
searches with a sector filter are planned with their own values (`tune_vector_search`).

Sectors come from the YAML file and may be added at any time, so the indexes are made at
start-up rather than by a migration: at once while the sector is small, otherwise with
`CREATE INDEX CONCURRENTLY` in the background, so writes never wait for a long build.
Until a sector's index is ready its searches use the shared index, as before.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Sequence
from typing import NamedTuple

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from config.sectors import SECTOR_NAME_PATTERN

log = structlog.get_logger(__name__)

INDEX_PREFIX = "ix_sector_embedding_"
# A sector with at most this many vectors gets its index inside start-up: a build that
# short (about a second here) holds back writes less than a background build costs.
BUILD_AT_ONCE_ROWS = 2_000
# Advisory lock keys. Start-up builds of all processes take turns under the first; a
# process that cannot take the second skips its background build, as another is at it.
# Two keys, so that a process starting never waits for another's long background build.
_STARTUP_LOCK = 7_416_310_001
_BACKGROUND_LOCK = 7_416_310_002


class SectorIndex(NamedTuple):
    sector: str
    name: str
    valid: bool


def index_name(sector: str) -> str:
    """A name unique to the sector within PostgreSQL's 63 characters; readable in `\\di`."""
    digest = hashlib.sha1(sector.encode()).hexdigest()[:8]
    return f"{INDEX_PREFIX}{digest}_{sector.replace('-', '_')[:32]}"


def create_sql(sector: str, *, concurrently: bool) -> str:
    # The sector goes into the SQL as a literal (an index predicate takes no parameters);
    # the pattern that sector names are checked against admits no quote or backslash.
    if not re.fullmatch(SECTOR_NAME_PATTERN, sector):
        raise ValueError(f"not a sector name: {sector!r}")
    return (
        f"CREATE INDEX {'CONCURRENTLY ' if concurrently else ''}IF NOT EXISTS "
        f"{index_name(sector)} ON chat_interactions USING hnsw (embedding vector_cosine_ops) "
        f"WHERE sector = '{sector}'"
    )


_EXISTING = text(
    "SELECT c.relname, i.indisvalid, pg_get_expr(i.indpred, i.indrelid) FROM pg_index i"
    " JOIN pg_class c ON c.oid = i.indexrelid"
    " WHERE i.indrelid = 'chat_interactions'::regclass AND c.relname LIKE :prefix"
)
# Counted only up to the threshold: what matters is whether the build is short.
_VECTORS_IN_SECTOR = text(
    "SELECT count(*) FROM (SELECT 1 FROM chat_interactions"
    " WHERE sector = :sector AND embedding IS NOT NULL LIMIT :cap) AS s"
)


async def existing_indexes(conn: AsyncConnection) -> list[SectorIndex]:
    result = await conn.execute(_EXISTING, {"prefix": f"{INDEX_PREFIX}%"})
    found = []
    for name, valid, predicate in result.all():
        match = re.fullmatch(r"\(sector = '([^']*)'::text\)", predicate or "")
        if match:
            found.append(SectorIndex(match.group(1), name, bool(valid)))
    return found


async def _without_valid_index(
    conn: AsyncConnection, sectors: Sequence[str]
) -> dict[str, SectorIndex | None]:
    """The sectors that have no usable index, each with the invalid index it has (left
    by a concurrent build that failed, to be dropped before building) or None."""
    existing = {index.sector: index for index in await existing_indexes(conn)}
    return {
        sector: existing.get(sector)
        for sector in sectors
        if sector not in existing or not existing[sector].valid
    }


async def ensure_small(engine: AsyncEngine, sectors: Sequence[str]) -> list[str]:
    """Build at once the missing indexes of sectors that are still small; returns the
    sectors whose index is still missing because they are too big to build at start-up."""
    large = []
    async with engine.begin() as conn:
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _STARTUP_LOCK})
        for sector, invalid in (await _without_valid_index(conn, sectors)).items():
            size = await conn.scalar(
                _VECTORS_IN_SECTOR, {"sector": sector, "cap": BUILD_AT_ONCE_ROWS + 1}
            )
            if size is not None and size > BUILD_AT_ONCE_ROWS:
                large.append(sector)
                continue
            if invalid is not None:
                await conn.execute(text(f"DROP INDEX {invalid.name}"))
            await conn.execute(text(create_sql(sector, concurrently=False)))
            log.info("sector_index_built", sector=sector, rows=size)
    return large


async def build_in_background(engine: AsyncEngine, sectors: Sequence[str]) -> None:
    """Build the given sectors' indexes with CREATE INDEX CONCURRENTLY, one at a time.

    Meant to run as a task: it takes minutes on a large table. If it is cancelled or the
    process dies, the half-built index stays invalid; the next start drops and rebuilds it.
    """
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        got = await conn.scalar(
            text("SELECT pg_try_advisory_lock(:key)"), {"key": _BACKGROUND_LOCK}
        )
        if not got:
            log.info("sector_index_build_elsewhere", sectors=list(sectors))
            return
        try:
            # Read again under the lock: another process may have built some meanwhile.
            for sector, invalid in (await _without_valid_index(conn, sectors)).items():
                if invalid is not None:
                    await conn.execute(text(f"DROP INDEX CONCURRENTLY {invalid.name}"))
                started = time.monotonic()
                log.info("sector_index_building", sector=sector)
                await conn.execute(text(create_sql(sector, concurrently=True)))
                log.info(
                    "sector_index_built",
                    sector=sector,
                    seconds=round(time.monotonic() - started, 1),
                )
        finally:
            await conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _BACKGROUND_LOCK})


async def drop_all(conn: AsyncConnection) -> None:
    """Drop every sector index (before the vectors are rebuilt, as `atende reembed` does)."""
    for index in await existing_indexes(conn):
        await conn.execute(text(f"DROP INDEX IF EXISTS {index.name}"))
