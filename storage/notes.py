"""client_notes rows. No HTTP, no rules: the service decides who may delete a note."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import ChatInteraction, ClientNote


class NoteRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def newest(self, client_id: uuid.UUID, limit: int) -> list[ClientNote]:
        query = (
            select(ClientNote)
            .where(ClientNote.client_id == client_id)
            .order_by(ClientNote.id.desc())
            .limit(limit)
        )
        async with self._sessions() as session:
            return list(await session.scalars(query))

    async def client_known(self, client_id: uuid.UUID) -> bool:
        """Whether any message is the customer's (ix_chat_interactions_client)."""
        query = select(ChatInteraction.id).where(ChatInteraction.client_id == client_id).limit(1)
        async with self._sessions() as session:
            return await session.scalar(query) is not None

    async def add(self, client_id: uuid.UUID, text: str, author: str) -> ClientNote:
        async with self._sessions.begin() as session:
            row = ClientNote(client_id=client_id, text=text, author=author)
            session.add(row)
            await session.flush()
            await session.refresh(row)
            return row

    async def delete(self, note_id: int, check: Callable[[ClientNote], None]) -> bool:
        """Delete the note once `check` (which may raise) has seen it, under its lock;
        False when there is no such note."""
        async with self._sessions.begin() as session:
            row = await session.get(ClientNote, note_id, with_for_update=True)
            if row is None:
                return False
            check(row)
            await session.delete(row)
            return True
