"""The data of search.py (its docstring says how it is made, steps 1 to 4): the Bitext
texts and their vectors from atende's default embedder, the held-out queries, rows mixed
from the other texts' vectors, and loading them into atende's own schema."""

from __future__ import annotations

import csv
import hashlib
import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import numpy as np
from sqlalchemy.engine import make_url

DIM = 384
SECTOR_SHARES = {"financeiro": 0.35, "vendas": 0.30, "geral": 0.17, "suporte": 0.13, "admin": 0.05}
VALIDATION = (("human", 0.60), ("ai", 0.25), ("pending", 0.15))
CHANNELS = (("telegram", 0.5), ("whatsapp", 0.3), ("rest", 0.2))
CUSTOMERS = 20_000
BITEXT = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets" / "bitext"
COLUMNS = (
    "client_id", "sector", "message", "answer", "validated_by", "operator_name", "channel",
    "channel_account", "embedding", "embedding_model", "pipeline_done_at", "created_at",
)  # fmt: skip


@dataclass
class Texts:
    messages: list[str]
    answers: list[str]
    intents: list[str]
    sectors: list[str]


def read_bitext() -> Texts:
    csv.field_size_limit(1 << 24)
    sector_of = json.loads((BITEXT / "intent_to_sector.json").read_text())
    path = BITEXT / "Bitext_Sample_Customer_Support_Training_Dataset.csv"
    with path.open(newline="", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["intent"] in sector_of]
    return Texts(
        [r["instruction"] for r in rows],
        [r["response"] for r in rows],
        [r["intent"] for r in rows],
        [sector_of[r["intent"]] for r in rows],
    )


async def embed(texts: list[str], cache: Path | None) -> np.ndarray:
    """Unit vectors from atende's default embedder, from `cache` when it holds these texts."""
    digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()
    if cache is not None and cache.exists():  # noqa: ASYNC240 (once, before any I/O loop)
        stored = np.load(cache)
        if str(stored["digest"]) == digest:
            return stored["vectors"]
    from config.settings import Settings
    from gateway.embeddings import create_embedder

    embedder = create_embedder(Settings(_env_file=None))
    try:
        vectors = []
        for i in range(0, len(texts), 32):
            vectors.extend(await embedder.embed(texts[i : i + 32]))
    finally:
        await embedder.aclose()
    matrix = np.asarray(vectors, dtype=np.float32)
    if cache is not None:
        np.savez(cache, digest=digest, vectors=matrix)
    return matrix


def hold_out(texts: Texts, count: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of `count` query texts, spread over the intents in proportion."""
    order = rng.permutation(len(texts.intents))
    by_intent: dict[str, list[int]] = {}
    for i in order:
        by_intent.setdefault(texts.intents[i], []).append(int(i))
    picked: list[int] = []
    share = count / len(texts.intents)
    for members in by_intent.values():
        picked.extend(members[: max(1, round(len(members) * share))])
    rest = [int(i) for i in order if int(i) not in set(picked)]
    picked = rng.permutation(picked)[:count].tolist() + rest[: max(0, count - len(picked))]
    return np.array(sorted(picked))


class RowMaker:
    """Rows mixed from real base vectors (see search.py's docstring, step 3)."""

    def __init__(
        self, texts: Texts, vectors: np.ndarray, bases: np.ndarray, noise: float, seed: int
    ) -> None:
        self.texts, self.vectors, self.bases, self.noise = texts, vectors, bases, noise
        self.rng = np.random.default_rng(seed)
        self.of_sector = {
            s: bases[[texts.sectors[b] == s for b in bases]] for s in SECTOR_SHARES
        }  # fmt: skip
        members: dict[str, list[int]] = {}
        for b in bases:
            members.setdefault(texts.intents[b], []).append(int(b))
        self.of_intent = {intent: np.array(group) for intent, group in members.items()}
        self.customers = [uuid.UUID(bytes=self.rng.bytes(16)) for _ in range(CUSTOMERS)]
        self.model_id = "e5-small:multilingual-e5-small-q4"

    def _pick(self, pool: np.ndarray, n: int) -> np.ndarray:
        return pool[self.rng.integers(0, len(pool), n)]

    def chunk(self, n: int) -> tuple[list[str], np.ndarray, np.ndarray]:
        """Sectors, first-component base indices and unit vectors of `n` new rows."""
        rng, texts = self.rng, self.texts
        names = list(SECTOR_SHARES)
        sectors = rng.choice(len(names), n, p=list(SECTOR_SHARES.values()))
        first = np.empty(n, dtype=np.int64)
        for s, name in enumerate(names):
            mask = sectors == s
            first[mask] = self._pick(self.of_sector[name], int(mask.sum()))
        matrix = self.vectors[first] * rng.uniform(0.6, 1.0, (n, 1)).astype(np.float32)
        parts = np.where(rng.random(n) < 0.6, 2, 3)
        for extra in (1, 2):
            rows = np.nonzero(parts > extra)[0]
            kind = rng.random(len(rows))
            other = self._pick(self.bases, len(rows))
            for j, r in enumerate(rows):
                b = first[r]
                if kind[j] < 0.7:
                    other[j] = self._pick(self.of_intent[texts.intents[b]], 1)[0]
                elif kind[j] < 0.9:
                    other[j] = self._pick(self.of_sector[texts.sectors[b]], 1)[0]
            weights = rng.uniform(0.15, 0.5, (len(rows), 1)).astype(np.float32)
            matrix[rows] += self.vectors[other] * weights
        matrix += rng.normal(0.0, self.noise, matrix.shape).astype(np.float32)
        matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
        return [names[s] for s in sectors], first, matrix

    def records(self, n: int) -> tuple[list[tuple], np.ndarray, np.ndarray]:
        sectors, first, matrix = self.chunk(n)
        rng = self.rng
        validated = rng.choice([v for v, _ in VALIDATION], n, p=[p for _, p in VALIDATION])
        channels = rng.choice([c for c, _ in CHANNELS], n, p=[p for _, p in CHANNELS])
        customers = rng.integers(0, CUSTOMERS, n)
        ages = rng.uniform(0, 365 * 86400, n)
        now = time.time()
        out = []
        for i in range(n):
            b = int(first[i])
            answered = validated[i] != "pending"
            at = datetime.fromtimestamp(now - ages[i], UTC)
            out.append(
                (
                    self.customers[customers[i]], sectors[i], self.texts.messages[b],
                    self.texts.answers[b] if answered else None, str(validated[i]),
                    "bench" if validated[i] == "human" else None, str(channels[i]),
                    "" if channels[i] == "rest" else "bench", matrix[i], self.model_id, at, at,
                )
            )  # fmt: skip
        names = list(SECTOR_SHARES)
        return out, matrix, np.array([names.index(s) for s in sectors], dtype=np.int8)


async def migrate(dsn: str) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    from storage.migrate import upgrade

    engine = create_async_engine(make_url(dsn).set(drivername="postgresql+asyncpg"))
    try:
        await upgrade(engine, DIM)
    finally:
        await engine.dispose()


async def load_rows(
    conn: asyncpg.Connection, maker: RowMaker, rows: int, chunk: int = 50_000
) -> tuple[np.ndarray, np.ndarray]:
    """COPY `rows` new rows; returns their vectors and sector numbers, in id order."""
    await conn.executemany(
        "INSERT INTO sectors (name) VALUES ($1) ON CONFLICT DO NOTHING",
        [(s,) for s in SECTOR_SHARES],
    )
    matrix = np.empty((rows, DIM), dtype=np.float32)
    sectors = np.empty(rows, dtype=np.int8)
    done = 0
    while done < rows:
        n = min(chunk, rows - done)
        records, matrix[done : done + n], sectors[done : done + n] = maker.records(n)
        await conn.copy_records_to_table("chat_interactions", records=records, columns=COLUMNS)
        done += n
    return matrix, sectors
