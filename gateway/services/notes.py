"""Internal notes about a customer: what operators tell each other and the customer must
never read ("sent the receipt twice already", "call after 6 pm").

A note belongs to the customer (the client_id of their messages), so it is there whichever
of their messages an operator opens next. Anyone on the team reads and writes them; only a
note's author, or an admin, deletes it, so nobody removes what a colleague wanted known.
"""

from __future__ import annotations

import uuid

import structlog

from config.errors import Conflict, NotFound
from gateway.services.assignments import Actor
from storage.models import ClientNote
from storage.notes import NoteRepository

log = structlog.get_logger(__name__)

# How many of a customer's notes are read, the newest: a shift's reading, not an archive.
NEWEST = 50


class NoteService:
    def __init__(self, repository: NoteRepository) -> None:
        self._repository = repository

    async def newest(self, client_id: uuid.UUID) -> list[ClientNote]:
        return await self._repository.newest(client_id, NEWEST)

    async def add(self, client_id: uuid.UUID, text: str, actor: Actor) -> ClientNote:
        if not await self._repository.client_known(client_id):
            raise NotFound(f"no messages from client {client_id}")
        row = await self._repository.add(client_id, text, actor.name)
        log.info("client_note_added", note_id=row.id, by=actor.name)
        return row

    async def delete(self, note_id: int, actor: Actor) -> None:
        def check(row: ClientNote) -> None:
            if row.author != actor.name and not actor.admin:
                raise Conflict(
                    f"note {note_id} was written by {row.author}; only they (or an admin) may "
                    "delete it"
                )

        if not await self._repository.delete(note_id, check):
            raise NotFound(f"no note with id {note_id}")
        log.info("client_note_deleted", note_id=note_id, by=actor.name)
