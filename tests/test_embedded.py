"""The embedded PostgreSQL: started in the data folder, stopped, and started again with
its data intact."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from storage.database import create_engine
from storage.embedded import EmbeddedPostgres, server_settings, total_memory


async def _run(url: str, *statements: str):
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            result = None
            for statement in statements:
                result = await conn.execute(text(statement))
            return result.scalar() if result is not None and result.returns_rows else None
    finally:
        await engine.dispose()


async def test_start_stop_restart_keeps_data(tmp_path):
    server = EmbeddedPostgres(tmp_path / "data")
    url = await asyncio.to_thread(server.start)
    assert (tmp_path / "data" / "pg" / "PG_VERSION").read_text().strip() == "18"
    version = await _run(
        url,
        "CREATE EXTENSION IF NOT EXISTS vector",
        "CREATE TABLE kept (note text)",
        "INSERT INTO kept VALUES ('olá')",
        "SELECT extversion FROM pg_extension WHERE extname = 'vector'",
    )
    assert version.startswith("0.8")
    await asyncio.to_thread(server.stop)
    assert not (tmp_path / "data" / "pg" / "postmaster.pid").exists()

    again = EmbeddedPostgres(tmp_path / "data")
    url = await asyncio.to_thread(again.start)
    try:
        assert await _run(url, "SELECT note FROM kept") == "olá"
        # atende's memory settings are in force, and the include was added once.
        for name, value in server_settings(total_memory()).items():
            in_force = await _run(url, f"SELECT pg_size_bytes(current_setting('{name}'))")
            assert in_force == int(value.removesuffix("MB")) * 1024 * 1024, name
        conf = (tmp_path / "data" / "pg" / "postgresql.conf").read_text()
        assert conf.count("include_if_exists = 'atende.conf'") == 1
    finally:
        await asyncio.to_thread(again.stop)


def test_the_embedded_server_gets_memory_for_its_vectors() -> None:
    gib = 1024**3
    assert server_settings(1 * gib) == {"shared_buffers": "256MB", "maintenance_work_mem": "64MB"}
    assert server_settings(8 * gib) == {
        "shared_buffers": "2048MB",
        "maintenance_work_mem": "512MB",
    }
    # Never below PostgreSQL's own defaults, never a runaway share of a big machine.
    assert server_settings(gib // 4)["shared_buffers"] == "128MB"
    assert server_settings(256 * gib)["maintenance_work_mem"] == "1024MB"


async def test_a_second_process_joins_and_leaves_the_server_running(tmp_path):
    owner = EmbeddedPostgres(tmp_path / "data")
    url = await asyncio.to_thread(owner.start)
    guest = EmbeddedPostgres(tmp_path / "data")
    try:
        assert await asyncio.to_thread(guest.start) == url
        await asyncio.to_thread(guest.stop)
        assert await _run(url, "SELECT 1") == 1  # the guest did not stop the owner's server
    finally:
        await asyncio.to_thread(owner.stop)
