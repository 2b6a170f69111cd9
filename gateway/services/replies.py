"""Saved replies ("respostas prontas"): answers operators keep ready to send.

An operator answering all day writes the same few things again and again (the opening
hours, how to send a document, "we are looking into it"). A saved reply is one of those,
found by its title in the console and put in the answer box to adjust and send. It is a
starting point for a human's answer, not a suggestion: nothing is sent without an
operator, and it never enters the validated history by itself (the answer it becomes,
once sent, does).
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from config.errors import Conflict, NotFound
from config.sectors import SectorCatalog
from storage.models import SavedReply
from storage.replies import DuplicateTitle, ReplyRepository

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class ReplyDraft:
    title: str
    text: str
    sector: str | None  # None: every sector's


class ReplyService:
    def __init__(self, repository: ReplyRepository, sectors: SectorCatalog) -> None:
        self._repository = repository
        self._sectors = sectors

    async def list(self, sector: str | None = None) -> list[SavedReply]:
        """Every reply; with `sector`, that sector's and every sector's."""
        if sector is not None:
            self._sectors.check(sector)
        return await self._repository.list(sector)

    async def create(self, draft: ReplyDraft, by: str) -> SavedReply:
        values = self._values(draft) | {"created_by": by, "updated_by": by}
        try:
            row = await self._repository.create(values)
        except DuplicateTitle as exc:
            raise self._duplicate(draft) from exc
        log.info("reply_saved", reply_id=row.id, sector=row.sector, by=by)
        return row

    async def update(self, reply_id: int, draft: ReplyDraft, by: str) -> SavedReply:
        values = self._values(draft) | {"updated_by": by}
        try:
            row = await self._repository.update(reply_id, values)
        except DuplicateTitle as exc:
            raise self._duplicate(draft) from exc
        if row is None:
            raise NotFound(f"no saved reply with id {reply_id}")
        log.info("reply_updated", reply_id=reply_id, by=by)
        return row

    async def delete(self, reply_id: int, by: str) -> None:
        if not await self._repository.delete(reply_id):
            raise NotFound(f"no saved reply with id {reply_id}")
        log.info("reply_deleted", reply_id=reply_id, by=by)

    def _values(self, draft: ReplyDraft) -> dict[str, str | None]:
        if draft.sector is not None:
            self._sectors.check(draft.sector)
        return {"title": draft.title, "text": draft.text, "sector": draft.sector}

    @staticmethod
    def _duplicate(draft: ReplyDraft) -> Conflict:
        where = f"sector {draft.sector}" if draft.sector else "every sector"
        return Conflict(f"title: a saved reply of {where} is titled {draft.title!r} already")
