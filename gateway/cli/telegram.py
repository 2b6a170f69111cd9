"""`atende telegram set-webhook URL` and `atende telegram poll NAME`."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import structlog
from telegram.error import TelegramError

from config.errors import ConfigurationError, NotFound, ServiceUnavailable
from config.settings import Settings
from connectors.registry import ConnectorRegistry
from connectors.telegram.connector import ALLOWED_UPDATES, TelegramConnector
from gateway.services.inbound import InboundService

log = structlog.get_logger(__name__)

WEBHOOK_PATH = "/webhooks/telegram/"


def _bot(registry: ConnectorRegistry, name: str) -> TelegramConnector:
    try:
        connector = registry.get("telegram", name)
    except NotFound as exc:
        raise ConfigurationError(exc.message) from exc
    assert isinstance(connector, TelegramConnector)
    return connector


def webhook_url(base: str, name: str) -> str:
    """`base` is atende's public URL, or already a bot's full webhook URL."""
    if WEBHOOK_PATH in base:
        return base
    return f"{base.rstrip('/')}{WEBHOOK_PATH}{name}"


async def set_webhooks(settings: Settings, url: str, only: str | None) -> list[str]:
    """Register each configured bot's webhook (or only `only`'s) with its secret token and
    the update kinds atende stores; returns the URLs registered."""
    from gateway.http.channels import build_registry

    registry = build_registry(settings)
    try:
        names = [only] if only else sorted(registry.telegram)
        if not names:
            raise ConfigurationError("no Telegram bot is configured")
        if WEBHOOK_PATH in url and len(names) > 1:
            raise ConfigurationError("a full webhook URL names one bot: add --bot NAME")
        done = []
        for name in names:
            connector = _bot(registry, name)
            target = webhook_url(url, name)
            bot = await connector.bot()
            await bot.set_webhook(
                url=target,
                secret_token=connector.secret_token,
                allowed_updates=list(ALLOWED_UPDATES),
            )
            log.info("telegram_webhook_set", bot=name, url=target)
            done.append(target)
        return done
    except TelegramError as exc:
        raise ConfigurationError(f"Telegram refused: {exc.message}") from exc
    finally:
        await registry.aclose()


async def poll_once(
    connector: TelegramConnector, inbound: InboundService, offset: int, *, wait_seconds: int
) -> int:
    """Fetch one batch of updates and store them; returns the next offset. An update that
    cannot be stored stops the batch there, so it is fetched again (nothing is lost)."""
    bot = await connector.bot()
    updates = await bot.get_updates(
        offset=offset, timeout=wait_seconds, allowed_updates=list(ALLOWED_UPDATES)
    )
    for update in updates:
        payload: dict[str, Any] = update.to_dict()
        receipt = await inbound.receive(connector, connector.normalise(payload))
        if receipt.interaction_ids:
            log.info("telegram_update_stored", interaction_ids=list(receipt.interaction_ids))
        offset = update.update_id + 1
    return offset


async def poll(settings: Settings, name: str) -> None:
    from gateway.app import open_database
    from gateway.embeddings import create_embedder
    from gateway.http.channels import build_registry
    from storage.database import driver_dsn
    from storage.ingest import IngestWriter

    registry = build_registry(settings)
    embedder = create_embedder(settings)  # only its vector size, for a first migration
    try:
        connector = _bot(registry, name)
        async with (
            open_database(settings, embedder.dim) as (engine, _),
            IngestWriter(driver_dsn(engine.url)) as writer,
        ):
            inbound = InboundService(writer)
            bot = await connector.bot()
            # getUpdates is refused while a webhook is set.
            await bot.delete_webhook()
            log.info("telegram_polling", bot=name)
            offset = 0
            while True:
                try:
                    offset = await poll_once(connector, inbound, offset, wait_seconds=30)
                except (ServiceUnavailable, TelegramError) as exc:
                    log.warning("telegram_poll_retry", bot=name, error=str(exc))
                    await asyncio.sleep(5)
    finally:
        await embedder.aclose()
        await registry.aclose()


def add_commands(sub: Any) -> None:
    def run_set_webhook(settings: Settings, args: argparse.Namespace) -> None:
        for url in asyncio.run(set_webhooks(settings, args.url, args.bot)):
            print(f"webhook set: {url}")

    def run_poll(settings: Settings, args: argparse.Namespace) -> None:
        asyncio.run(poll(settings, args.name))

    telegram = sub.add_parser("telegram", help="Telegram bot operations")
    commands = telegram.add_subparsers(dest="telegram_command", required=True)
    set_webhook = commands.add_parser(
        "set-webhook", help="register each bot's webhook (URL: atende's public base URL)"
    )
    set_webhook.add_argument("url", help="e.g. https://atende.example.com")
    set_webhook.add_argument("--bot", help="only this bot (default: every configured bot)")
    set_webhook.set_defaults(func=run_set_webhook)
    polling = commands.add_parser(
        "poll", help="receive one bot's updates by long polling (no public URL needed)"
    )
    polling.add_argument("name", help="the bot's configured name")
    polling.set_defaults(func=run_poll)
