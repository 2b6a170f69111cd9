"""`create_app(settings)`: the one place where atende is wired together.

Each resource is opened and closed in its own cleanup context, so shutting down closes
exactly what was started, in reverse order.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import structlog
from aiohttp import web
from sqlalchemy.exc import DBAPIError, OperationalError

from config.errors import ConfigurationError
from config.sectors import load_sectors
from config.settings import Settings
from gateway.embeddings import create_embedder
from gateway.http import (
    access,
    analytics,
    assignments,
    console,
    customers,
    events,
    keys,
    messages,
    notes,
    operators,
    replies,
    system,
    webhooks,
)
from gateway.http.access import POLICY, AccessPolicy, access_control
from gateway.http.channels import channels_ctx
from gateway.http.cors import add_cors
from gateway.http.middlewares import request_context, request_metrics
from gateway.http.shared_reads import SharedReads
from gateway.services.access import ApiKeyService, check_auth_switch
from gateway.services.analytics import AnalyticsService
from gateway.services.assignments import AssignmentService
from gateway.services.customers import CustomerService
from gateway.services.embedding import EmbeddingWorker, check_embedding_model
from gateway.services.knowledge import KnowledgeBase
from gateway.services.messages import MessageService
from gateway.services.notes import NoteService
from gateway.services.operators import OperatorService
from gateway.services.pipeline import build_pipeline
from gateway.services.replies import ReplyService
from gateway.telemetry.metrics import Metrics
from storage import migrate, sector_indexes
from storage.analytics import AnalyticsRepository
from storage.api_keys import ApiKeyRepository
from storage.assignments import AssignmentRepository
from storage.customers import CustomerRepository
from storage.database import create_engine, ping, session_factory
from storage.embedded import EmbeddedPostgres
from storage.notes import NoteRepository
from storage.replies import ReplyRepository
from storage.repositories import MessageRepository, MetaRepository, SectorRepository
from storage.routing import RoutingRepository

log = structlog.get_logger(__name__)


@contextlib.asynccontextmanager
async def open_database(settings: Settings, embedding_dim: int) -> AsyncIterator[tuple]:
    """The engine and session factory, on the configured or the embedded server, migrated
    when the settings say so. Shared by the gateway and the command-line tools."""
    embedded = None
    url = settings.async_database_url
    if url is None:
        embedded = EmbeddedPostgres(settings.data_dir)
        url = await asyncio.to_thread(embedded.start)
    engine = create_engine(url)
    try:
        try:
            await ping(engine)
        except (OperationalError, DBAPIError, OSError) as exc:
            raise ConfigurationError(f"cannot reach the database: {exc}") from exc
        if settings.migrate_on_start:
            await migrate.upgrade(engine, embedding_dim)
        elif await migrate.current_revision(engine) != migrate.head_revision():
            raise ConfigurationError(
                "the database schema is not up to date; run `atende migrate` first"
            )
        yield engine, session_factory(engine)
    finally:
        await engine.dispose()
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)


async def _embedder_ctx(app: web.Application) -> AsyncIterator[None]:
    embedder = create_embedder(app[keys.SETTINGS])
    app[keys.EMBEDDER] = embedder
    yield
    await embedder.aclose()


async def _database_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    embedder = app[keys.EMBEDDER]
    async with open_database(settings, embedder.dim) as (engine, sessions):
        app[keys.ENGINE] = engine
        app[keys.SESSIONS] = sessions
        catalog = app[keys.SECTORS]
        await SectorRepository(sessions).sync([(s.name, s.description) for s in catalog.sectors])
        await check_embedding_model(MetaRepository(sessions), embedder)
        large = await sector_indexes.ensure_small(engine, catalog.names)
        building = (
            asyncio.create_task(sector_indexes.build_in_background(engine, large), name="indexes")
            if large
            else None
        )
        yield
        if building is not None:
            # Cancelled mid-build, the index is left invalid and the next start rebuilds it.
            building.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await building


async def _services_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    repository = MessageRepository(app[keys.SESSIONS])
    pipeline = build_pipeline(
        settings,
        app[keys.SECTORS],
        app[keys.SESSIONS],
        app[keys.EMBEDDER],
        outbox=app[keys.OUTBOX],
        metrics=app[keys.METRICS],
    )
    worker = EmbeddingWorker(
        app[keys.SESSIONS],
        repository,
        app[keys.EMBEDDER],
        batch_size=settings.embedding_batch_size,
        idle_poll_seconds=settings.worker_idle_poll_seconds,
        pipeline=pipeline,
    )
    app[keys.EMBEDDING_WORKER] = worker
    app[keys.MESSAGES] = MessageService(
        repository,
        app[keys.SECTORS],
        app[keys.EMBEDDER],
        max_message_chars=settings.max_message_chars,
        on_stored=app[keys.ON_STORED],
        outbox=app[keys.OUTBOX],
    )
    app[keys.PIPELINE] = pipeline
    app[keys.OPERATORS] = OperatorService(
        app[keys.MESSAGES],
        RoutingRepository(app[keys.SESSIONS]),
        pipeline.suggestions,
        app[keys.SECTORS],
        metrics=app[keys.METRICS],
    )
    app[keys.QUEUE_READS] = SharedReads()
    app[keys.ASSIGNMENTS] = AssignmentService(
        AssignmentRepository(app[keys.SESSIONS]), app[keys.SECTORS]
    )
    app[keys.REPLIES] = ReplyService(ReplyRepository(app[keys.SESSIONS]), app[keys.SECTORS])
    app[keys.NOTES] = NoteService(NoteRepository(app[keys.SESSIONS]))
    app[keys.CUSTOMERS] = CustomerService(CustomerRepository(app[keys.SESSIONS]))
    app[keys.API_KEYS] = ApiKeyService(ApiKeyRepository(app[keys.SESSIONS]))
    app[keys.ANALYTICS] = AnalyticsService(
        AnalyticsRepository(app[keys.SESSIONS]),
        app[keys.SECTORS],
        response_target=settings.response_target,
    )
    app[keys.KNOWLEDGE] = KnowledgeBase(
        RoutingRepository(app[keys.SESSIONS]), app[keys.SECTORS], app[keys.EMBEDDER]
    )
    tasks = (
        [
            asyncio.create_task(worker.run(), name="embedding-worker"),
            asyncio.create_task(pipeline.run(), name="pipeline-worker"),
        ]
        if settings.run_worker
        else []
    )
    log.info("gateway_ready", worker=settings.run_worker, api_prefix=settings.api_prefix)
    yield
    for task in tasks:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await pipeline.aclose()


def create_app(settings: Settings, *, host: str | None = None) -> web.Application:
    """Build the gateway. Reading the sectors file is the only I/O done before start.

    `host` is the address the server will bind (default: ATENDE_HOST); auth can be off
    only on loopback."""
    check_auth_switch(settings.auth_disabled, host or settings.host)
    app = web.Application(
        # Metrics outermost, so they count the status the client got; access inside the
        # error middleware, so a refusal is a JSON error like any other.
        middlewares=[request_metrics, request_context, access_control],
        client_max_size=2 * 1024 * 1024,
    )
    app[keys.SETTINGS] = settings
    app[keys.METRICS] = Metrics()
    app[POLICY] = AccessPolicy.of(settings)
    app[keys.SECTORS] = load_sectors(settings.sectors_file)
    add_cors(app, settings)
    app.cleanup_ctx.extend([_embedder_ctx, _database_ctx, channels_ctx, _services_ctx])
    events.add_shutdown(app)
    webhooks.add_routes(app)
    console.add_routes(app)
    system.add_routes(
        app,
        (
            *system.OPERATIONS,
            system.metrics_operation(settings.metrics_require_key),
            *messages.OPERATIONS,
            *operators.OPERATIONS,
            *assignments.OPERATIONS,
            *replies.OPERATIONS,
            *notes.OPERATIONS,
            *customers.OPERATIONS,
            *events.OPERATIONS,
            *access.OPERATIONS,
            *analytics.OPERATIONS,
        ),
        settings.api_prefix,
    )
    return app
