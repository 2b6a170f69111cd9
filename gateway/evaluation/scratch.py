"""A scratch database for `atende eval`: a new, empty database on the configured server
(or the embedded one), under a fresh name, dropped at the end, so the user's data is
never touched."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from config.settings import Settings
from storage.embedded import EmbeddedPostgres


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
