"""The `atende kb import` command (registered by `gateway.cli`)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from config.settings import Settings


def cmd_kb_import(settings: Settings, args: argparse.Namespace) -> None:
    from gateway.evaluation.data import read_utf8

    path = Path(args.file)
    content = read_utf8(path, unit="line")  # its DatasetError is reported as any setting's
    asyncio.run(_kb_import(settings, args, path, content))


async def _kb_import(
    settings: Settings, args: argparse.Namespace, path: Path, content: str
) -> None:
    from tqdm import tqdm

    from config.errors import AtendeError
    from config.sectors import load_sectors
    from gateway.app import open_database
    from gateway.embeddings import create_embedder
    from gateway.services.embedding import check_embedding_model
    from gateway.services.knowledge import KnowledgeBase, format_of
    from storage.repositories import MetaRepository, SectorRepository
    from storage.routing import RoutingRepository

    catalog = load_sectors(settings.sectors_file)
    embedder = create_embedder(settings)
    try:
        async with open_database(settings, embedder.dim) as (_, sessions):
            await check_embedding_model(MetaRepository(sessions), embedder)
            await SectorRepository(sessions).sync(
                [(s.name, s.description) for s in catalog.sectors]
            )
            knowledge = KnowledgeBase(
                RoutingRepository(sessions),
                catalog,
                embedder,
                batch_size=settings.embedding_batch_size,
            )
            try:
                pairs = knowledge.parse(content, format_of(path.name))
                with tqdm(total=len(pairs), unit="pair", disable=args.quiet) as bar:

                    def progress(done: int) -> None:
                        bar.n = done
                        bar.refresh()

                    result = await knowledge.import_pairs(pairs, progress)
            except AtendeError as exc:
                sys.exit(f"atende: {path}: {exc.message}")
        print(f"{path}: {result.received} pairs, {result.added} added, {result.skipped} known")
    finally:
        await embedder.aclose()


def add_commands(sub: Any) -> None:
    kb = sub.add_parser("kb", help="the knowledge base of validated answers")
    kb_sub = kb.add_subparsers(dest="kb_command", required=True)
    kb_import = kb_sub.add_parser(
        "import", help="import question-answer pairs from CSV or JSONL (again: adds nothing)"
    )
    kb_import.add_argument("file", help="a .csv or .jsonl file: question, answer, optional sector")
    kb_import.add_argument("--quiet", action="store_true", help="no progress bar")
    kb_import.set_defaults(func=cmd_kb_import)
