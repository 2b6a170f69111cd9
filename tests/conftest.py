"""Test fixtures: a real PostgreSQL with pgvector and the real application.

The server is `ATENDE_TEST_DATABASE_URL` when set (any PostgreSQL with pgvector, as an
administrator), else an embedded PostgreSQL started for the session. Every test gets a
fresh database copied from a migrated template, so tests never see each other's rows.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from config.settings import Settings
from storage import migrate
from storage.embedded import EmbeddedPostgres

REPO_ROOT = Path(__file__).resolve().parent.parent
# atende's own pt-BR evaluation set (eval/pt_br/README.md says what it holds).
PT_BR = REPO_ROOT / "eval" / "pt_br" / "atende_pt_br.jsonl"
# A second business's (an internet provider), written after the decision was chosen.
PT_BR_PROVEDOR = REPO_ROOT / "eval" / "pt_br" / "atende_pt_br_provedor.jsonl"
DEFAULT_DIM = 384  # the default model's (e5-small) vector size


def shared_dir() -> Path:
    """Material from other projects (`../shared`), found through one setting."""
    return Path(os.environ.get("ATENDE_SHARED_DIR", REPO_ROOT.parent / "shared"))


def require_shared(*parts: str) -> Path:
    path = shared_dir().joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent (set ATENDE_SHARED_DIR to the shared folder)")
    return path


def database_url(server_url: str, name: str) -> str:
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


async def _admin(server_url: str, *statements: str) -> None:
    engine = create_async_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            for statement in statements:
                await conn.execute(text(statement))
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An administrator URL (postgresql+asyncpg://) of the server the tests use."""
    given = os.environ.get("ATENDE_TEST_DATABASE_URL")
    if given:
        yield Settings(_env_file=None, database_url=given).async_database_url or ""
        return
    server = EmbeddedPostgres(tmp_path_factory.mktemp("pg"))
    url = server.start()
    try:
        yield url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def template_db(pg_server: str) -> str:
    name = f"atende_template_{os.getpid()}"

    async def build() -> None:
        await _admin(pg_server, f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"')
        engine = create_async_engine(database_url(pg_server, name))
        try:
            await migrate.upgrade(engine, DEFAULT_DIM)
        finally:
            await engine.dispose()

    asyncio.run(build())
    return name


@pytest.fixture
async def empty_db_url(pg_server: str) -> AsyncIterator[str]:
    """A new database with nothing in it, not even the schema."""
    name = f"atende_test_{uuid.uuid4().hex[:12]}"
    await _admin(pg_server, f'CREATE DATABASE "{name}"')
    yield database_url(pg_server, name)
    await _admin(pg_server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def db_url(pg_server: str, template_db: str) -> AsyncIterator[str]:
    """A new, migrated database for one test."""
    name = f"atende_test_{uuid.uuid4().hex[:12]}"
    await _admin(pg_server, f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
    yield database_url(pg_server, name)
    await _admin(pg_server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_admin(pg_server: str):
    """Run administrative SQL (CREATE/DROP DATABASE) on the test server."""

    async def run(*statements: str) -> None:
        await _admin(pg_server, *statements)

    return run


def make_settings(db: str, **overrides: object) -> Settings:
    values: dict[str, object] = {"database_url": db, "log_level": "warning"}
    values.update(overrides)
    return Settings(_env_file=None, **values)


@pytest.fixture
def settings(db_url: str) -> Settings:
    return make_settings(db_url)


async def issue_key(db: str, role: str = "admin", name: str | None = None) -> str:
    """A new API key of `role`, stored straight in the database `db`; returns the key."""
    from gateway.services.access import hash_key, new_key

    key, prefix = new_key()
    await run_sql(
        db,
        "INSERT INTO api_keys (name, role, prefix, key_hash) VALUES (:name, :role, :prefix, :hash)",
        name=name or f"test-{role}-{prefix}",
        role=role,
        prefix=prefix,
        hash=hash_key(key),
    )
    return key


async def run_sql(db: str, statement: str, **params: object) -> None:
    """One statement on the database `db`, in its own committed transaction."""
    engine = create_async_engine(db)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(statement), params)
    finally:
        await engine.dispose()


async def query_sql(db: str, statement: str, **params: object) -> list[dict[str, object]]:
    """The rows one query returns on the database `db`, each as a dict."""
    engine = create_async_engine(db)
    try:
        async with engine.connect() as conn:
            result = await conn.execute(text(statement), params)
            return [dict(row._mapping) for row in result]
    finally:
        await engine.dispose()


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
async def client(settings: Settings, aiohttp_client):
    # `settings` first: fixtures are torn down in reverse, so the app stops before its
    # database is dropped. The client speaks as an admin, which may call every route.
    from gateway.app import create_app

    key = await issue_key(settings.async_database_url or "")
    return await aiohttp_client(create_app(settings), headers=bearer(key))


async def wait_until_embedded(client, interaction_id: int, within: float = 20.0) -> dict:
    """Poll the API until the worker has given the message its vector."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        response = await client.get(f"/api/v1/messages/{interaction_id}")
        body = await response.json()
        if body.get("embedded"):
            return body
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"message {interaction_id} was not embedded in {within}s")
        await asyncio.sleep(0.05)


def run_atende(
    *args: str, db: str, timeout: float = 300, settings: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """`atende ARGS` as a user runs it, on the database `db`, with no other ATENDE_ setting
    than `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATENDE_")}
    env.pop("DATABASE_URL", None)
    env.update(ATENDE_DATABASE_URL=db, ATENDE_LOG_LEVEL="warning", **(settings or {}))
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
async def stack(db_url: str, tmp_path: Path, aiohttp_server, aiohttp_client):
    """A gateway without its own worker, loopback fakes and `atende worker` subprocesses
    (tests/worker_stack.py)."""
    from tests.worker_stack import open_stack

    async with open_stack(db_url, tmp_path, aiohttp_server, aiohttp_client) as opened:
        yield opened
