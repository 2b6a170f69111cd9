"""saved_replies rows. No HTTP, no rules: the service checks sectors and names conflicts."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import SavedReply


class DuplicateTitle(Exception):
    """A reply of the same sector has this title already, whatever its case."""


class ReplyRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def list(self, sector: str | None = None) -> list[SavedReply]:
        """Every reply, or a sector's and every sector's, by title."""
        query = select(SavedReply).order_by(func.lower(SavedReply.title), SavedReply.id)
        if sector is not None:
            query = query.where(or_(SavedReply.sector == sector, SavedReply.sector.is_(None)))
        async with self._sessions() as session:
            return list(await session.scalars(query))

    async def create(self, values: Mapping[str, str | None]) -> SavedReply:
        try:
            async with self._sessions.begin() as session:
                row = SavedReply(**values)
                session.add(row)
                await session.flush()
                await session.refresh(row)
                return row
        except IntegrityError as exc:
            raise DuplicateTitle(values.get("title")) from exc

    async def update(self, reply_id: int, values: Mapping[str, str | None]) -> SavedReply | None:
        try:
            async with self._sessions.begin() as session:
                row = await session.get(SavedReply, reply_id, with_for_update=True)
                if row is None:
                    return None
                for name, value in values.items():
                    setattr(row, name, value)
                await session.flush()
                await session.refresh(row)
                return row
        except IntegrityError as exc:
            raise DuplicateTitle(values.get("title")) from exc

    async def delete(self, reply_id: int) -> bool:
        async with self._sessions.begin() as session:
            result = await session.execute(delete(SavedReply).where(SavedReply.id == reply_id))
            return bool(result.rowcount)
