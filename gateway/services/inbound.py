"""Receiving channel webhooks: store what they carried, durably, before acknowledging.

The body is stored in one transaction (customers, interactions, statuses); the webhook
answers 2xx only after it committed, and 503 when the database cannot be reached, so the
platform delivers it again. Everything slow (embedding, routing, suggestions) happens
afterwards in the workers, which `on_stored` wakes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import structlog
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    IntegrityError,
    ProgrammingError,
    SQLAlchemyError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout

from connectors.base import Connector, Inbound
from gateway.errors import ServiceUnavailable
from storage.channels import ChannelRepository, NewInteraction

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Receipt:
    stored: int
    duplicates: int
    statuses: int
    ignored: int


class InboundService:
    def __init__(
        self, repository: ChannelRepository, *, on_stored: Callable[[], None] = lambda: None
    ) -> None:
        self._repository = repository
        self._on_stored = on_stored

    async def receive(self, connector: Connector, inbound: Inbound) -> Receipt:
        bound = log.bind(channel=connector.channel, account=connector.account)
        messages = [
            NewInteraction(
                user_id=m.user_id,
                profile_name=m.profile_name,
                received_at=m.sent_at,
                values={
                    "message": m.text,
                    "message_type": m.message_type,
                    "media": m.media,
                    "external_id": m.external_id,
                    "update_key": m.update_key,
                    "reply_to": m.reply_to,
                },
            )
            for m in inbound.messages
        ]
        statuses = [
            (s.platform_message_id, s.status, s.error_code, s.error_reason)
            for s in inbound.statuses
        ]
        for kind in inbound.ignored:
            bound.info("webhook_ignored", kind=kind)
        if not messages and not statuses:
            return Receipt(0, 0, 0, len(inbound.ignored))
        try:
            result = await self._repository.store(
                connector.channel, connector.account, messages, statuses
            )
        except (IntegrityError, DataError, ProgrammingError):
            raise  # a fault in atende, not an outage: a 500, and the log shows it as such
        except (DBAPIError, PoolTimeout, OSError) as exc:
            bound.warning("webhook_database_unavailable", error=str(exc).splitlines()[0])
            raise ServiceUnavailable("the database is unavailable; deliver again later") from exc
        except SQLAlchemyError as exc:
            bound.warning("webhook_database_error", error=str(exc).splitlines()[0])
            raise ServiceUnavailable("the message could not be stored; deliver again") from exc
        for interaction_id in result.stored:
            bound.info("message_stored", interaction_id=interaction_id)
        if result.duplicates:
            bound.info("webhook_duplicates", count=result.duplicates)
        if result.stored:
            self._on_stored()
        return Receipt(
            len(result.stored), result.duplicates, result.statuses_applied, len(inbound.ignored)
        )
