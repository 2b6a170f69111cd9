"""Receiving channel webhooks: store what they carried, durably, before acknowledging.

The body is stored in one transaction (customers, interactions, statuses), shared with
the webhooks that arrived at the same moment (see storage.ingest); the webhook answers
2xx only after it committed, and 503 when the database cannot be reached, so the
platform delivers it again. Everything slow (embedding, routing, suggestions) happens
afterwards in the workers, which `on_stored` wakes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import structlog

from config.errors import ServiceUnavailable
from connectors.base import Connector, Inbound
from storage.channels import NewInteraction
from storage.ingest import IngestUnavailable, IngestWriter

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Receipt:
    stored: int
    duplicates: int
    statuses: int
    ignored: int
    interaction_ids: tuple[int, ...] = ()


class InboundService:
    def __init__(
        self, writer: IngestWriter, *, on_stored: Callable[[], None] = lambda: None
    ) -> None:
        self._writer = writer
        self._on_stored = on_stored

    async def receive(self, connector: Connector, inbound: Inbound) -> Receipt:
        where = {"channel": connector.channel, "account": connector.account}
        messages = [
            NewInteraction(
                user_id=m.user_id,
                profile_name=m.profile_name,
                received_at=m.sent_at,
                message=m.text,
                message_type=m.message_type,
                media=m.media,
                external_id=m.external_id,
                update_key=m.update_key,
                reply_to=m.reply_to,
            )
            for m in inbound.messages
        ]
        statuses = [
            (s.platform_message_id, s.status, s.error_code, s.error_reason)
            for s in inbound.statuses
        ]
        for kind in inbound.ignored:
            log.info("webhook_ignored", kind=kind, **where)
        if not messages and not statuses:
            return Receipt(0, 0, 0, len(inbound.ignored))
        try:
            result = await self._writer.store(
                connector.channel, connector.account, messages, statuses
            )
        except IngestUnavailable as exc:
            log.warning("webhook_database_unavailable", error=str(exc), **where)
            raise ServiceUnavailable("the database is unavailable; deliver again later") from exc
        # No line of its own: the webhook's request line names what was stored, and a
        # line per message would cost more than storing it.
        if result.stored:
            self._on_stored()
        return Receipt(
            len(result.stored),
            result.duplicates,
            result.statuses_applied,
            len(inbound.ignored),
            tuple(result.stored),
        )
