"""The commands that run atende: `serve`, `migrate`, `worker` and `reembed`."""

from __future__ import annotations

import argparse
import asyncio
import errno
import gc
import socket
from collections.abc import Callable, Coroutine
from typing import Any

import structlog

from config.errors import ConfigurationError
from config.settings import Settings
from gateway import __version__

log = structlog.get_logger(__name__)


def one_blas_thread() -> None:
    """The worker's matrix products are small (a calibrated projection of a hundred-odd
    rows, gateway.services.projection) and many: OpenBLAS's threads, which spin between
    jobs, burnt more CPU than they saved (bench/pipeline_latency.py --calibrate at 50 msg/s:
    atende serve 1.49 cores and p95 0.8 s with two of them, 0.84 and 70 ms with one).
    The e5 engine has threads of its own; use-multilingual's products run on one core."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


def freeze_long_lived() -> None:
    """Keep what a started process holds for good out of the garbage collector's full
    collections. Once started, the libraries and the services are about 200,000 objects,
    and every full collection walked them all: pauses of the event loop of about 100 ms,
    twice a minute at bench/pipeline_latency.py's 50 messages/s, each one delaying every
    message in flight (2-7 ms once frozen). A frozen object is still freed when its last
    reference goes, but a cycle among frozen objects never is: so the garbage of start-up
    is collected first."""
    gc.collect()
    gc.freeze()


async def _freeze_started(app: Any) -> None:
    freeze_long_lived()


def check_listenable(host: str, port: int) -> None:
    """Refuse a start whose address is taken or not this machine's, before the database
    starts and the model loads, naming it (aiohttp would fail only after both, with a
    traceback). Bound as aiohttp binds, with SO_REUSEADDR, so a port a stopped gateway's
    connections still wait on counts as free."""
    try:
        addresses = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        raise ConfigurationError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    for family, kind, proto, _, address in addresses:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
            except OSError as exc:
                hint = (
                    " (another process listens there: stop it, or set ATENDE_PORT or --port)"
                    if exc.errno == errno.EADDRINUSE
                    else ""
                )
                raise ConfigurationError(
                    f"cannot listen on {host}:{port}: {exc.strerror}{hint}"
                ) from None


def cmd_serve(settings: Settings, args: argparse.Namespace) -> None:
    from aiohttp import web

    from gateway.app import create_app

    one_blas_thread()

    host = args.host or settings.host
    port = args.port or settings.port
    # What is wrong with the configuration is said first, whatever else holds the port.
    app = create_app(settings, host=host)
    check_listenable(host, port)
    log.info(
        "starting",
        host=host,
        port=port,
        version=__version__,
        database="external" if settings.database_url else f"embedded in {settings.data_dir}",
        embeddings=settings.embedding_provider.value,
    )
    # After the app's own start-up (its contexts start first), before the first request.
    app.on_startup.append(_freeze_started)
    web.run_app(
        app,
        host=host,
        port=port,
        print=None,
        access_log=None,
        handle_signals=True,
    )


async def _migrate(settings: Settings, args: argparse.Namespace) -> None:
    from gateway.app import open_database
    from gateway.embeddings import create_embedder

    embedder = create_embedder(settings)
    try:
        async with open_database(
            settings.model_copy(update={"migrate_on_start": True}), embedder.dim
        ):
            log.info("migrated")
    finally:
        await embedder.aclose()


async def _worker(settings: Settings, args: argparse.Namespace) -> None:
    one_blas_thread()
    from config.sectors import load_sectors
    from gateway.app import open_database
    from gateway.embeddings import create_embedder
    from gateway.http.channels import running_delivery_worker
    from gateway.services.embedding import EmbeddingWorker, check_embedding_model
    from gateway.services.pipeline import build_pipeline
    from storage import notices
    from storage.database import driver_dsn
    from storage.repositories import MessageRepository, MetaRepository, SectorRepository

    embedder = create_embedder(settings)
    try:
        async with open_database(settings, embedder.dim) as (engine, sessions):
            await check_embedding_model(MetaRepository(sessions), embedder)
            catalog = load_sectors(settings.sectors_file)
            await SectorRepository(sessions).sync(
                [(s.name, s.description) for s in catalog.sectors]
            )
            async with running_delivery_worker(settings, sessions) as outbox:
                pipeline = build_pipeline(settings, catalog, sessions, embedder, outbox=outbox)
                worker = EmbeddingWorker(
                    sessions,
                    MessageRepository(sessions),
                    embedder,
                    batch_size=settings.embedding_batch_size,
                    idle_poll_seconds=settings.worker_idle_poll_seconds,
                    pipeline=pipeline,
                )
                freeze_long_lived()
                log.info("worker_started")
                # Embedding with routing and suggestion, and the retries of those; any may
                # run in other processes too. A gateway without its own worker sends
                # notices when it stores work, so this one need not wait for its poll.
                woken = {notices.STORED: worker.wake, notices.OUTBOX: outbox.wake}
                try:
                    await asyncio.gather(
                        worker.run(),
                        pipeline.run(),
                        notices.listen(driver_dsn(engine.url), woken),
                    )
                finally:
                    await pipeline.aclose()
    finally:
        await embedder.aclose()


async def _reembed(settings: Settings, args: argparse.Namespace) -> None:
    from tqdm import tqdm

    from gateway.app import open_database
    from gateway.embeddings import create_embedder
    from gateway.services.embedding import reembed_all

    embedder = create_embedder(settings)
    try:
        async with open_database(settings, embedder.dim) as (engine, sessions):
            with tqdm(unit="msg", desc="embedding", disable=args.quiet) as bar:

                def progress(done: int, total: int) -> None:
                    bar.total = total
                    bar.n = done
                    bar.refresh()

                done = await reembed_all(
                    engine,
                    sessions,
                    embedder,
                    missing_only=args.missing,
                    batch_size=settings.embedding_batch_size,
                    progress=progress,
                )
        print(f"embedded {done} messages with {embedder.model_id}")
    finally:
        await embedder.aclose()


def _run(coro: Callable[[Settings, argparse.Namespace], Coroutine[Any, Any, None]]):
    def command(settings: Settings, args: argparse.Namespace) -> None:
        asyncio.run(coro(settings, args))

    return command


def add_commands(sub: Any) -> None:
    serve = sub.add_parser("serve", help="run the gateway (HTTP API, webhooks and worker)")
    serve.add_argument("--host", help="address to bind (default: ATENDE_HOST)")
    serve.add_argument("--port", type=int, help="port to bind (default: ATENDE_PORT)")
    serve.set_defaults(func=cmd_serve)

    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=_run(_migrate))
    sub.add_parser("worker", help="run only the background worker").set_defaults(func=_run(_worker))

    reembed = sub.add_parser("reembed", help="rebuild message vectors with the configured model")
    reembed.add_argument(
        "--missing", action="store_true", help="only fill messages that have no vector yet"
    )
    reembed.add_argument("--quiet", action="store_true", help="no progress bar")
    reembed.set_defaults(func=_run(_reembed))
