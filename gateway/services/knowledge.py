"""KnowledgeBase: importing validated question-and-answer pairs from CSV or JSONL.

Each pair's key is a hash of its normalised question, answer and sector, stored as
the row's external_id under channel 'rest' and account 'kb'; the unique key on
(channel, channel_account, external_id) makes a second import of the same pair add
nothing. Pairs already stored are found before embedding, so a re-import costs no
model time.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from config.errors import FieldProblem, ServiceUnavailable, ValidationFailed
from config.sectors import SectorCatalog
from connectors.base import UNSTORABLE_TEXT, is_storable
from gateway.embeddings import Embedder, EmbeddingError
from storage.routing import RoutingRepository


@dataclass(frozen=True)
class KnowledgePair:
    question: str
    answer: str
    sector: str | None

    @property
    def key(self) -> str:
        plain = "\x1f".join(
            " ".join(part.split()).lower()
            for part in (self.question, self.answer, self.sector or "")
        )
        return "kb:" + hashlib.sha256(plain.encode("utf-8")).hexdigest()[:40]


@dataclass(frozen=True)
class ImportResult:
    received: int
    added: int
    skipped: int


def _pair(record: dict, where: str, catalog: SectorCatalog) -> KnowledgePair:
    question = str(record.get("question") or "").strip()
    answer = str(record.get("answer") or "").strip()
    sector = str(record.get("sector") or "").strip() or None
    if not question or not answer:
        raise ValidationFailed.on(where, "needs a non-empty question and answer")
    for name, text in (("question", question), ("answer", answer)):
        if not is_storable(text):
            raise ValidationFailed.on(where, f"{name} {UNSTORABLE_TEXT}")
    if sector is not None:
        catalog.check(sector, where)
    return KnowledgePair(question, answer, sector)


def parse_pairs(content: str, fmt: str, catalog: SectorCatalog) -> list[KnowledgePair]:
    """Pairs from CSV (a header with question, answer and optionally sector) or JSONL."""
    content = content.removeprefix("\ufeff")  # the byte-order mark spreadsheets write
    if fmt == "csv":
        reader = csv.DictReader(io.StringIO(content))
        missing = {"question", "answer"} - set(reader.fieldnames or [])
        if missing:
            raise ValidationFailed.on("file", f"the CSV header lacks {', '.join(sorted(missing))}")
        return [_pair(r, f"line {n}", catalog) for n, r in enumerate(reader, start=2)]
    if fmt == "jsonl":
        pairs = []
        for n, line in enumerate(content.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValidationFailed.on(f"line {n}", f"not JSON: {exc.msg}") from exc
            if not isinstance(record, dict):
                raise ValidationFailed.on(f"line {n}", "must be a JSON object")
            pairs.append(_pair(record, f"line {n}", catalog))
        return pairs
    raise ValidationFailed.on("format", f"must be csv or jsonl, got {fmt!r}")


def format_of(filename: str) -> str:
    lower = filename.lower()
    if lower.endswith(".csv"):
        return "csv"
    if lower.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    raise ValidationFailed.on("file", "name a .csv or .jsonl file")


class KnowledgeBase:
    """Stores validated pairs as human-validated interactions, embedded in batches."""

    def __init__(
        self,
        repository: RoutingRepository,
        catalog: SectorCatalog,
        embedder: Embedder,
        *,
        batch_size: int = 64,
    ) -> None:
        self._repository = repository
        self._catalog = catalog
        self._embedder = embedder
        self._batch_size = batch_size

    def parse(self, content: str, fmt: str) -> list[KnowledgePair]:
        return parse_pairs(content, fmt, self._catalog)

    def parse_items(self, pairs: list[KnowledgePair]) -> list[KnowledgePair]:
        """Pairs given as JSON, checked the same way as a file's."""
        return [
            _pair(
                {"question": p.question, "answer": p.answer, "sector": p.sector},
                f"items.{n}",
                self._catalog,
            )
            for n, p in enumerate(pairs)
        ]

    async def import_pairs(
        self,
        pairs: Iterable[KnowledgePair],
        progress: Callable[[int], None] = lambda done: None,
    ) -> ImportResult:
        """Embed and insert the pairs not stored yet; `progress` gets pairs handled so far."""
        given = list(pairs)
        unique = list({p.key: p for p in given}.values())
        received = len(given)
        added = 0
        for start in range(0, len(unique), self._batch_size):
            batch = unique[start : start + self._batch_size]
            stored = await self._repository.existing_kb_keys([p.key for p in batch])
            fresh = [p for p in batch if p.key not in stored]
            if fresh:
                try:
                    vectors = await self._embedder.embed([p.question for p in fresh])
                except EmbeddingError as exc:
                    raise ServiceUnavailable(
                        f"the embedding provider failed: {exc}",
                        details=[FieldProblem("file", f"{added} pairs were stored before")],
                    ) from exc
                inserted = await self._repository.insert_kb(
                    [
                        {
                            "message": p.question,
                            "answer": p.answer,
                            "sector": p.sector,
                            "external_id": p.key,
                            "embedding": vector,
                            "embedding_model": self._embedder.model_id,
                        }
                        for p, vector in zip(fresh, vectors, strict=True)
                    ]
                )
                added += len(inserted)
            progress(start + len(batch))
        return ImportResult(received=received, added=added, skipped=received - added)
