"""The channels' part of the application: connectors, inbound service, outbox and the
delivery worker, opened and closed in one cleanup context (see `gateway.app`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from functools import partial

import structlog
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config.channels import ChannelConfigError, load_channels
from config.errors import ConfigurationError
from config.settings import Settings
from connectors.registry import ConnectorRegistry
from gateway import __version__
from gateway.http import keys
from gateway.services.delivery import DeliveryWorker, Outbox
from gateway.services.inbound import InboundService
from storage import notices
from storage.database import driver_dsn
from storage.deliveries import DeliveryRepository
from storage.ingest import IngestWriter

log = structlog.get_logger(__name__)


def build_registry(settings: Settings) -> ConnectorRegistry:
    try:
        channels = load_channels(
            settings.channels_file, settings.telegram_bots, settings.whatsapp_numbers
        )
    except ChannelConfigError as exc:
        raise ConfigurationError(f"channel configuration: {exc}") from exc
    return ConnectorRegistry(settings, channels, user_agent=f"atende/{__version__}")


def build_delivery_worker(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], registry: ConnectorRegistry
) -> tuple[Outbox, DeliveryWorker]:
    outbox = Outbox(registry, rest_callback_url=settings.rest_callback_url)
    worker = DeliveryWorker(
        DeliveryRepository(sessions),
        registry,
        outbox,
        max_attempts=settings.delivery_max_attempts,
        idle_poll_seconds=settings.worker_idle_poll_seconds,
    )
    return outbox, worker


async def channels_ctx(app: web.Application) -> AsyncIterator[None]:
    """Runs after the database is open and before the message service is built (which
    takes the outbox); the delivery worker runs here when the settings say so."""
    settings = app[keys.SETTINGS]
    registry = build_registry(settings)
    app[keys.CONNECTORS] = registry
    outbox, worker = build_delivery_worker(settings, app[keys.SESSIONS], registry)
    app[keys.OUTBOX] = outbox
    app[keys.DELIVERY_WORKER] = worker

    # Without a worker of its own, the gateway tells the `atende worker` processes.
    notifier = None if settings.run_worker else notices.Notifier(driver_dsn(app[keys.ENGINE].url))
    if notifier is not None:
        outbox.on_wake = partial(notifier.notify, notices.OUTBOX)

    def stored() -> None:
        # The ingest writes without the sessions, whose commits wake the feed themselves.
        activity = app.get(keys.ACTIVITY)
        if activity is not None:
            activity.wake()
        if notifier is not None:
            notifier.notify(notices.STORED)
            return
        # The embedding worker is built after this context; find it when a message lands.
        embedding = app.get(keys.EMBEDDING_WORKER)
        if embedding is not None:
            embedding.wake()

    app[keys.ON_STORED] = stored
    writer = IngestWriter(driver_dsn(app[keys.ENGINE].url))
    await writer.start()
    app[keys.INBOUND] = InboundService(writer, on_stored=stored)
    task = (
        asyncio.create_task(worker.run(), name="delivery-worker") if settings.run_worker else None
    )
    log.info(
        "channels_ready", telegram=sorted(registry.telegram), whatsapp=sorted(registry.whatsapp)
    )
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await writer.close()
        if notifier is not None:
            await notifier.close()
        await registry.aclose()


@contextlib.asynccontextmanager
async def running_delivery_worker(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[Outbox]:
    """The delivery worker as a task beside others (for `atende worker`); yields its outbox."""
    registry = build_registry(settings)
    outbox, worker = build_delivery_worker(settings, sessions, registry)
    task = asyncio.create_task(worker.run(), name="delivery-worker")
    try:
        yield outbox
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await registry.aclose()
