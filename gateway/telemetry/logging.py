"""structlog, configured once at start: readable locally, JSON in production."""

from __future__ import annotations

import logging
import sys

import structlog

from config.settings import LogFormat


def configure_logging(level: str = "info", fmt: LogFormat = LogFormat.CONSOLE) -> None:
    numeric = logging.getLevelNamesMapping()[level.upper()]
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.typing.Processor
    if fmt is LogFormat.JSON:
        renderer = structlog.processors.JSONRenderer()
        shared.append(structlog.processors.format_exc_info)
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        # Configured once per process, before anything logs: caching saves rebuilding the
        # logger on every call (a tenth of a webhook's CPU). Tests never call this, so
        # structlog.testing.capture_logs keeps working there.
        cache_logger_on_first_use=True,
    )
    # Libraries that log through the standard library (aiohttp, alembic) follow the level.
    logging.basicConfig(level=max(numeric, logging.WARNING), stream=sys.stderr, force=True)
