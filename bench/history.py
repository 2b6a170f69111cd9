"""A throwaway database with atende's schema and a large human-validated history, for the
benchmarks that need one (pipeline_latency.py, memory.py).

The history is derived from real support texts, so its vectors are distributed like the
default model's: the Bitext sample (../shared/datasets/bitext) is split by intent with a
fixed seed; one part is embedded with atende's own embedder and becomes the sources, the
other part is held out and is what the benchmarks send. Each of the N rows copies one
source's message, answer and sector, and its vector is that source's vector moved a little
towards another source of the same intent, plus noise along the difference of two random
sources (so the noise stays in the span the model's vectors occupy rather than being
isotropic), normalised. Rows are written with binary COPY, then the HNSW index is built
once, with the definition of migration 0001 (as `atende reembed` rebuilds it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import json
import math
import os
import random
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from harness import throwaway_database

SHARED = Path(os.environ.get("ATENDE_SHARED_DIR", Path(__file__).resolve().parents[2] / "shared"))
BITEXT = SHARED / "datasets" / "bitext"
HISTORY_CLIENT = uuid.uuid5(uuid.NAMESPACE_URL, "atende:bench-history")
HNSW_INDEX = (
    "CREATE INDEX ix_chat_interactions_embedding ON chat_interactions "
    "USING hnsw (embedding vector_cosine_ops)"
)  # as in storage/migrations/versions/0001_initial.py


@dataclass(frozen=True)
class Text:
    message: str
    answer: str
    intent: str
    sector: str


def bitext_split(
    held_out: float, seed: int, *, per_intent: bool = False
) -> tuple[list[Text], list[Text]]:
    """(sources, held out): each intent split in the same proportion, fixed seed.

    Bitext writes every response anew, so its sources carry as many answers as texts, and
    an intent's answers split its vote. `per_intent`: each source carries its intent's
    first answer instead, as a knowledge base holds one validated answer per question
    (what `atende eval --answers per-intent` does)."""
    sectors = json.loads((BITEXT / "intent_to_sector.json").read_text())
    by_intent: dict[str, list[Text]] = defaultdict(list)
    with open(BITEXT / "Bitext_Sample_Customer_Support_Training_Dataset.csv", newline="") as f:
        for row in csv.DictReader(f):
            by_intent[row["intent"]].append(
                Text(row["instruction"].strip(), row["response"].strip(), row["intent"],
                     sectors[row["intent"]])
            )  # fmt: skip
    if per_intent:
        for texts in by_intent.values():
            texts[:] = [replace(t, answer=texts[0].answer) for t in texts]
    rng = random.Random(seed)
    sources, held = [], []
    for intent in sorted(by_intent):
        texts = by_intent[intent]
        rng.shuffle(texts)
        cut = round(len(texts) * held_out)
        held += texts[:cut]
        sources += texts[cut:]
    rng.shuffle(held)
    rng.shuffle(sources)
    return sources, held


def _cached(cache: Path | None, key: str) -> np.ndarray | None:
    if cache is None or not cache.exists():
        return None
    stored = np.load(cache)
    return stored["vectors"] if str(stored["key"]) == key else None


async def embed_all(
    embedder, texts: list[str], batch: int = 32, cache: Path | None = None
) -> np.ndarray:
    """The texts' vectors by atende's embedder; `cache` (an .npz) keeps them between runs
    for the same texts and model, since a busy machine embeds only tens of texts a second."""
    import hashlib

    key = hashlib.sha256("\0".join([embedder.model_id, *texts]).encode()).hexdigest()
    cached = _cached(cache, key)
    if cached is not None:
        return cached
    vectors: list[list[float]] = []
    for i in range(0, len(texts), batch):
        vectors += await embedder.embed(texts[i : i + batch])
    matrix = np.asarray(vectors, dtype=np.float32)
    if cache is not None:
        np.savez(cache, key=np.array(key), vectors=matrix)
    return matrix


def derive(
    vectors: np.ndarray, intents: list[str], count: int, seed: int, *, pull: float, noise: float
) -> tuple[np.ndarray, np.ndarray]:
    """`count` unit vectors, each near one source: (vectors, index of the source of each).

    v = a + u (b - a) + s (c - d), normalised: a the source, b another source of the same
    intent, u ~ U(0, pull); c, d any two sources, s ~ U(0, noise). The first len(vectors)
    rows are the sources themselves."""
    rng = np.random.default_rng(seed)
    n = len(vectors)
    by_intent: dict[str, np.ndarray] = {}
    for name in set(intents):
        by_intent[name] = np.array([i for i, x in enumerate(intents) if x == name])
    origin = np.concatenate([np.arange(min(n, count)), rng.integers(0, n, max(0, count - n))])
    partner = np.array([rng.choice(by_intent[intents[i]]) for i in origin])
    u = rng.uniform(0, pull, (len(origin), 1)).astype(np.float32)
    s = rng.uniform(0, noise, (len(origin), 1)).astype(np.float32)
    c, d = rng.integers(0, n, len(origin)), rng.integers(0, n, len(origin))
    out = vectors[origin] + u * (vectors[partner] - vectors[origin]) + s * (vectors[c] - vectors[d])
    out[: min(n, count)] = vectors[: min(n, count)]
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out.astype(np.float32), origin


async def load_history(
    dsn: str, sources: list[Text], vectors: np.ndarray, origin: np.ndarray, model_id: str
) -> dict[str, float]:
    """COPY the rows in, then build the HNSW indexes; returns seconds per step."""
    import asyncpg
    from pgvector.asyncpg import register_vector

    from storage import sector_indexes

    seconds: dict[str, float] = {}
    conn = await asyncpg.connect(dsn)
    try:
        await register_vector(conn)
        await conn.execute("DROP INDEX IF EXISTS ix_chat_interactions_embedding")
        started = time.perf_counter()
        records = (
            (HISTORY_CLIENT, sources[o].sector, sources[o].message, sources[o].answer, "bench",
             "human", "rest", "bench-history", f"h{i}", vectors[i], model_id)
            for i, o in enumerate(origin.tolist())
        )  # fmt: skip
        await conn.execute("SET synchronous_commit = off")  # this loading session only
        await conn.copy_records_to_table(
            "chat_interactions",
            records=records,
            columns=["client_id", "sector", "message", "answer", "operator_name", "validated_by",
                     "channel", "channel_account", "external_id", "embedding", "embedding_model"],
        )  # fmt: skip
        # History, not work: the pipeline's queue is rows whose pipeline_done_at is NULL.
        await conn.execute(
            "UPDATE chat_interactions SET pipeline_done_at = created_at "
            "WHERE channel_account = 'bench-history'"
        )
        seconds["copy"] = time.perf_counter() - started
        started = time.perf_counter()
        # Session settings of this build only; the index itself is atende's.
        await conn.execute("SET maintenance_work_mem = '1GB'")
        await conn.execute(HNSW_INDEX)
        seconds["hnsw"] = time.perf_counter() - started
        # Each sector's own index, as `atende serve` makes them (in the background, on a
        # table this big), so that the measured gateway does not start by building them.
        started = time.perf_counter()
        for sector in await conn.fetchval("SELECT array_agg(name) FROM sectors"):
            await conn.execute(sector_indexes.create_sql(sector, concurrently=False))
        seconds["sector_hnsw"] = time.perf_counter() - started
        started = time.perf_counter()
        await conn.execute("VACUUM ANALYZE chat_interactions")
        seconds["analyze"] = time.perf_counter() - started
        # Written out now: otherwise the checkpoint the load's WAL asked for writes the new
        # indexes' pages (about 140 MB) during the next minutes, in the middle of what a
        # benchmark measures. A server that refuses (no pg_checkpoint role) is measured so.
        started = time.perf_counter()
        try:
            await conn.execute("CHECKPOINT")
            seconds["checkpoint"] = time.perf_counter() - started
        except asyncpg.InsufficientPrivilegeError:
            seconds["checkpoint"] = math.nan
    finally:
        await conn.close()
    return seconds


@contextlib.asynccontextmanager
async def migrated_database(given: str | None, folder: Path) -> AsyncIterator[str]:
    """A throwaway database (harness.py) with atende's schema (its migrations, for 384-d
    vectors), its sectors and the model recorded: on the given server, or on an embedded
    one in `folder`. Yields a postgresql:// DSN."""
    async with throwaway_database(given, folder) as dsn:
        await prepare_schema(dsn)
        yield dsn


def run_comparison(
    parser: argparse.ArgumentParser,
    measure: Callable[[argparse.Namespace, Path], Awaitable[None]],
) -> None:
    """Parse the arguments every bench comparing two ways in one run takes (besides the
    parser's own), then run `measure(args, folder)` with a scratch folder, where an
    embedded PostgreSQL lives unless `--database-url` names a server."""
    parser.add_argument("--messages", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="atende-bench-") as folder:
        asyncio.run(measure(args, Path(folder)))


async def prepare_schema(dsn: str) -> None:
    """What `atende serve` does to a new database before serving, without loading a model."""
    from config.sectors import load_sectors
    from config.settings import Settings
    from gateway.app import open_database
    from gateway.embeddings import create_embedder
    from gateway.services.embedding import EMBEDDING_META_KEY
    from storage.repositories import MetaRepository, SectorRepository

    settings = Settings(_env_file=None, database_url=dsn)
    embedder = create_embedder(settings)  # its model is loaded on first use only: not here
    async with open_database(settings, embedder.dim) as (_, sessions):
        catalog = load_sectors(settings.sectors_file)
        await SectorRepository(sessions).sync([(s.name, s.description) for s in catalog.sectors])
        # What check_embedding_model records on a first start, without loading the model.
        await MetaRepository(sessions).set(
            EMBEDDING_META_KEY,
            {"model_id": embedder.model_id, "dim": embedder.dim},
        )
    await embedder.aclose()
