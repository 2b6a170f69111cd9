"""The `atende keys create|list|revoke` commands (registered by `gateway.cli`)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from config.settings import Settings


async def _with_keys(settings: Settings, action: Any) -> Any:
    from gateway.app import open_database
    from gateway.embeddings import create_embedder
    from gateway.services.access import ApiKeyService
    from storage.api_keys import ApiKeyRepository

    embedder = create_embedder(settings)  # only its vector size, for a fresh database
    try:
        async with open_database(settings, embedder.dim) as (_, sessions):
            return await action(ApiKeyService(ApiKeyRepository(sessions)))
    finally:
        await embedder.aclose()


def _run(settings: Settings, action: Any) -> Any:
    from config.errors import AtendeError, ConfigurationError

    try:
        return asyncio.run(_with_keys(settings, action))
    except ConfigurationError:
        raise
    except AtendeError as exc:
        sys.exit(f"atende: {exc.message}")


def cmd_create(settings: Settings, args: argparse.Namespace) -> None:
    from gateway.services.access import Role

    issued = _run(settings, lambda service: service.issue(name=args.name, role=Role(args.role)))
    print(issued.key)
    print(
        f"created {issued.row.role} key {issued.row.name!r} ({issued.row.prefix}); "
        "it is shown only now, so store it safely",
        file=sys.stderr,
    )


def cmd_list(settings: Settings, args: argparse.Namespace) -> None:
    from gateway.services.access import describe

    rows = [describe(row) for row in _run(settings, lambda service: service.list())]
    header = ["name", "role", "prefix", "created_at", "last_used_at", "revoked_at"]
    table = [header] + [[row[column] or "-" for column in header] for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    for line in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)))


def cmd_revoke(settings: Settings, args: argparse.Namespace) -> None:
    row = _run(settings, lambda service: service.revoke(args.key))
    print(f"revoked {row.role} key {row.name!r} ({row.prefix})")


def add_commands(sub: Any) -> None:
    from gateway.services.access import Role

    keys = sub.add_parser("keys", help="REST API keys: create, list, revoke")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    create = keys_sub.add_parser("create", help="create a key and print it (shown only once)")
    create.add_argument("--role", required=True, choices=[role.value for role in Role])
    create.add_argument("--name", required=True, help="who or what uses the key")
    create.set_defaults(func=cmd_create)
    keys_sub.add_parser(
        "list", help="every key: name, role, prefix, created, last used, revoked"
    ).set_defaults(func=cmd_list)
    revoke = keys_sub.add_parser("revoke", help="revoke a key; it stops working at once")
    revoke.add_argument("key", help="the key's name or prefix")
    revoke.set_defaults(func=cmd_revoke)
