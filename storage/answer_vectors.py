"""Answers' own vectors, kept so that each answer is embedded once per model.

`atende calibrate` embeds every answer given at least twice (answer_model.embed_answer_texts).
The vector depends only on the answer's text, folded as answer_key folds it, and on the
model, so a later calibration, or `--apply` after a dry run, reads it back instead. The
vectors are derived data: they change no suggestion until a calibration is applied.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import AnswerVector
from storage.reviews import answer_digest

# Rows per statement: asyncpg takes at most 32,767 parameters in one.
CHUNK = 2_000


class AnswerVectorRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def known(self, model_id: str, keys: Sequence[str]) -> dict[str, list[float]]:
        """The kept vector of each of these answer_keys that has one under `model_id`."""
        by_digest = {answer_digest(key): key for key in keys}
        digests = list(by_digest)
        found: dict[str, list[float]] = {}
        async with self._sessions() as session:
            for start in range(0, len(digests), CHUNK):
                query = select(AnswerVector.answer_digest, AnswerVector.embedding).where(
                    AnswerVector.model_id == model_id,
                    AnswerVector.answer_digest.in_(digests[start : start + CHUNK]),
                )
                for row in await session.execute(query):
                    found[by_digest[row.answer_digest]] = [float(x) for x in row.embedding]
        return found

    async def keep(self, model_id: str, vectors: Mapping[str, Sequence[float]]) -> None:
        """Keep these vectors by answer_key. Those of any other model are dropped: the
        database holds one model's vectors (`atende reembed` switches all of them)."""
        async with self._sessions.begin() as session:
            await session.execute(delete(AnswerVector).where(AnswerVector.model_id != model_id))
            rows = [
                {"model_id": model_id, "answer_digest": answer_digest(k), "embedding": list(v)}
                for k, v in vectors.items()
            ]
            for start in range(0, len(rows), CHUNK):
                part = rows[start : start + CHUNK]
                await session.execute(insert(AnswerVector).values(part).on_conflict_do_nothing())
