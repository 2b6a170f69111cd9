"""The message service: the business rules behind the REST API's message routes."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from config.errors import NotFound, ServiceUnavailable, ValidationFailed
from config.sectors import SectorCatalog
from gateway.embeddings import Embedder, EmbeddingError
from gateway.schemas.messages import MessageCreate, MessageUpdate, PageQuery, SearchRequest
from gateway.services.assignments import UNASSIGNED, Actor
from storage.models import ChatInteraction
from storage.repositories import MessageRepository, Page, ScoredInteraction

if TYPE_CHECKING:
    from gateway.services.delivery import Outbox

log = structlog.get_logger(__name__)

# A step of a change's own transaction, given its session and the changed row.
InTransaction = Callable[[AsyncSession, ChatInteraction], Awaitable[object]]


class MessageService:
    """Creates, changes, lists and searches interactions.

    A new message is stored first and embedded afterwards by the worker, so a slow or
    failing embedding provider never costs a message; `on_stored` wakes the worker.
    """

    def __init__(
        self,
        repository: MessageRepository,
        sectors: SectorCatalog,
        embedder: Embedder,
        *,
        max_message_chars: int,
        on_stored: Callable[[], None] = lambda: None,
        outbox: Outbox | None = None,
    ) -> None:
        self._repository = repository
        self._outbox = outbox
        self._sectors = sectors
        self._embedder = embedder
        self._max_chars = max_message_chars
        self._on_stored = on_stored

    async def create(self, body: MessageCreate) -> ChatInteraction:
        if body.sector is not None:
            self._sectors.check(body.sector)
        if len(body.message) > self._max_chars:
            raise ValidationFailed.on(
                "message", f"has {len(body.message)} characters; the limit is {self._max_chars}"
            )
        row = await self._repository.create(
            client_id=body.client_id,
            sector=body.sector,
            message=body.message,
            channel="rest",
            reply_to=str(body.callback_url) if body.callback_url else None,
        )
        log.info("message_stored", interaction_id=row.id, channel="rest", sector=row.sector)
        self._on_stored()
        return row

    async def get(self, interaction_id: int) -> ChatInteraction:
        row = await self._repository.get(interaction_id)
        if row is None:
            raise NotFound(f"no message with id {interaction_id}")
        return row

    async def update(
        self,
        interaction_id: int,
        body: MessageUpdate,
        *,
        precondition: Callable[[ChatInteraction], None] | None = None,
        actor: Actor | None = None,
        also: InTransaction | None = None,
    ) -> ChatInteraction:
        """Apply `body`; `precondition` checks the locked row first and may refuse; `also`
        runs after the change, in its transaction (closing the lines an answer covers).

        With an `actor`, a message someone else has taken is refused (409), unless the
        actor is an admin; a change of `validated_by` (approved, rejected, reset) ends
        the message's assignment.
        """
        changes = body.model_dump(include=body.model_fields_set)
        if "validated_by" in changes:
            changes.update(UNASSIGNED)
        check = precondition
        if actor is not None:

            def check(row: ChatInteraction) -> None:
                if precondition is not None:
                    precondition(row)
                actor.check_holds(row, "change")

        # An answer approved by a human is queued for the customer in the same transaction.
        steps = [self._outbox.enqueue_if_approved] if self._outbox is not None else []
        steps += [also] if also is not None else []

        async def in_transaction(session: AsyncSession, row: ChatInteraction) -> None:
            for step in steps:
                await step(session, row)

        row = await self._repository.update(
            interaction_id, changes, in_transaction=in_transaction, precondition=check
        )
        if self._outbox is not None:
            self._outbox.wake()
        if row is None:
            raise NotFound(f"no message with id {interaction_id}")
        log.info("message_updated", interaction_id=row.id, fields=sorted(changes))
        return row

    async def search(self, body: SearchRequest) -> list[ScoredInteraction]:
        if body.sector is not None:
            self._sectors.check(body.sector)
        try:
            [vector] = await self._embedder.embed([body.query])
        except EmbeddingError as exc:
            raise ServiceUnavailable(f"the embedding provider failed: {exc}") from exc
        return await self._repository.search(
            vector,
            limit=body.limit,
            min_similarity=body.similarity_threshold,
            sector=body.sector,
            model_id=self._embedder.model_id,
        )

    async def by_client(self, client_id: uuid.UUID, query: PageQuery) -> Page:
        return await self._repository.list_page(
            page=query.page, per_page=query.per_page, client_id=client_id
        )

    async def by_sector(self, sector: str, query: PageQuery) -> Page:
        if self._sectors.get(sector) is None:
            raise NotFound(f"no sector named {sector!r}; known: {', '.join(self._sectors.names)}")
        return await self._repository.list_page(
            page=query.page, per_page=query.per_page, sector=sector
        )
