"""Sending approved answers to customers: the outbox and the delivery worker.

When an update leaves an interaction validated by a human with an answer, the outbox
queues one delivery per part of that answer IN THE SAME TRANSACTION as the update, keyed
by (interaction, answer hash, part): approving the same answer again, from any number of
requests, queues nothing new, and a changed answer approved again is sent as new.

Workers (inside `atende serve` and/or `atende worker`, any number) claim due deliveries
with `FOR UPDATE SKIP LOCKED` and mark them `sending` before sending, so two workers never
send one delivery. 5xx answers, refused connections and connect timeouts are retried
with backoff: the platform has nothing. A send whose request left but whose answer was
lost (a read timeout, a dropped connection) is failed as `unconfirmed`, never repeated:
the platform may have delivered it, and a customer must not get an answer twice (REST
callbacks are the exception: their receiver drops repeats by X-Atende-Delivery). A send
cut short by the death of its worker is never repeated either.

A worker that dies (kill -9, a lost machine) is handled by the others within seconds:
each running worker holds a lease, an id locked in PostgreSQL for as long as its
connection lives, and writes it on what it claims; just before each platform call it
commits `send_started_at`. Every RECOVER_EVERY seconds any worker takes back the claims
of ids nobody holds: a send that never started goes back to the queue (it is then sent
exactly once), a send that started is failed as `interrupted` and never repeated,
because neither Telegram nor WhatsApp offers an idempotency key (the customer may or may
not have it; an operator sees why). Claims older than INTERRUPTED_AFTER are taken back
the same way whatever their worker, as a fallback; a claim made without a lease (a
one-off `drain`) counts as started. `send_started_at` is committed before the connector's
own pacing wait (and, for a bot's first send, Telegram's getMe), so a death there also
counts as started: the error is always on the side of not repeating.

Rate limits (Telegram ~30/s per bot and 1/s per chat, WhatsApp 80/s per number) are kept
per process by each connector; the platforms' own 429 / rate errors are honoured on top.
A WhatsApp status that arrives before the worker recorded the send (a race of
milliseconds) names no known message yet and is ignored; later statuses still apply.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from config.errors import NotFound
from connectors.base import SendFailed
from connectors.registry import ConnectorRegistry
from connectors.splitting import split_text
from gateway.services.polling import Wakeup, work_forever
from storage.channels import Delivery
from storage.deliveries import DeliveryRepository
from storage.models import ChatInteraction

log = structlog.get_logger(__name__)

# Why a send whose answer was lost is not tried again (at most once, as for a crash).
UNCONFIRMED = (
    "the platform may have delivered it but its answer was lost; not sent again, so the "
    "customer never gets it twice"
)
# The fallback: a claim this old is taken back even if its worker still holds its lease.
INTERRUPTED_AFTER = timedelta(minutes=5)
# How often a running worker looks for the claims of dead workers (a cheap indexed query).
RECOVER_EVERY = 10.0


def backoff(attempt: int) -> timedelta:
    """Wait before retry `attempt` + 1: 2 s, 4 s, 8 s ... up to 15 minutes."""
    return timedelta(seconds=min(900, 2 ** max(1, attempt)))


class Outbox:
    """Decides whether an interaction's change means an answer must go out, and queues it."""

    def __init__(self, registry: ConnectorRegistry, *, rest_callback_url: str | None) -> None:
        self._registry = registry
        self._rest_callback_url = rest_callback_url
        self._wake = Wakeup()
        # Set where the delivery worker runs in other processes (storage.notices).
        self.on_wake: Callable[[], None] | None = None

    def _destination(self, row: ChatInteraction) -> tuple[str, int | None] | None:
        """(recipient, longest part) for the row's channel, or None when it has nowhere to go."""
        if row.channel == "rest":
            url = row.reply_to or self._rest_callback_url
            return (url, None) if url else None
        if not row.reply_to:
            return None
        try:
            connector = self._registry.get(row.channel, row.channel_account)
        except NotFound:
            # The account was removed from the configuration; the queue keeps the message
            # and the worker records why it cannot go.
            return row.reply_to, 4096
        return row.reply_to, connector.max_text_chars

    async def enqueue_if_approved(self, session: AsyncSession, row: ChatInteraction) -> int:
        """Queue the row's answer if a human approved it; call inside the update's transaction."""
        if row.validated_by != "human":
            return 0
        return await self.enqueue_answer(session, row, row.answer or "")

    async def enqueue_answer(self, session: AsyncSession, row: ChatInteraction, answer: str) -> int:
        """Queue `answer` for the row's customer, inside the caller's transaction. Only a
        human approval or a sector's explicit auto-send may call this."""
        answer = answer.strip()
        if not answer:
            return 0
        destination = self._destination(row)
        if destination is None:
            return 0
        recipient, limit = destination
        answer_hash = hashlib.sha256(answer.encode()).hexdigest()[:32]
        parts = split_text(answer, limit)
        new = await DeliveryRepository.enqueue(
            session,
            [
                {
                    "interaction_id": row.id,
                    "answer_hash": answer_hash,
                    "part": number,
                    "parts": len(parts),
                    "channel": row.channel,
                    "channel_account": row.channel_account,
                    "recipient": recipient,
                    "body": text,
                }
                for number, text in enumerate(parts, start=1)
            ],
        )
        if new:
            log.info("delivery_queued", interaction_id=row.id, channel=row.channel, parts=new)
        return new

    def wake(self) -> None:
        """Tell the worker (once the transaction committed) there is work."""
        self._wake.set()
        if self.on_wake is not None:
            self.on_wake()

    @property
    def wakeup(self) -> Wakeup:
        return self._wake


class DeliveryWorker:
    """Sends due deliveries until told to stop."""

    def __init__(
        self,
        repository: DeliveryRepository,
        registry: ConnectorRegistry,
        outbox: Outbox,
        *,
        max_attempts: int = 8,
        batch_size: int = 20,
        idle_poll_seconds: float = 1.0,
    ) -> None:
        self._repository = repository
        self._registry = registry
        self._outbox = outbox
        self._max_attempts = max_attempts
        self._batch_size = batch_size
        self._idle_poll = idle_poll_seconds
        self._worker_id: int | None = None

    async def _send(self, delivery: Delivery) -> None:
        bound = log.bind(
            delivery_id=delivery.id,
            interaction_id=delivery.interaction_id,
            channel=delivery.channel,
            account=delivery.channel_account,
            part=delivery.part,
        )
        context: dict[str, Any] = {
            "delivery_id": delivery.id,
            "message_id": delivery.interaction_id,
            "part": delivery.part,
            "parts": delivery.parts,
        }
        try:
            connector = self._registry.get(delivery.channel, delivery.channel_account)
        except NotFound as exc:
            await self._repository.fail(delivery.id, "unknown_account", exc.message)
            bound.warning("delivery_failed", code="unknown_account")
            return
        if not await self._repository.start_send(delivery):
            # Taken back by a recovery sweep (this worker's lease looked lost, or the claim
            # stale): another worker may be sending it now.
            bound.warning("delivery_claim_lost")
            return
        try:
            sent = await connector.send(delivery.recipient, delivery.body, context=context)
        except SendFailed as exc:
            if exc.maybe_sent and not connector.receiver_drops_repeats:
                exc = SendFailed("unconfirmed", f"{exc.reason}; {UNCONFIRMED}", permanent=True)
            await self._failed(delivery, exc, bound)
            return
        except Exception as exc:  # a bug must not stop the worker or lose the row
            bound.exception("delivery_crashed")
            failure = SendFailed("internal_error", f"{type(exc).__name__}: {exc}", permanent=False)
            await self._failed(delivery, failure, bound)
            return
        await self._repository.mark_sent(delivery, sent.platform_message_id)
        bound.info("delivery_sent", platform_message_id=sent.platform_message_id)

    async def _failed(self, delivery: Delivery, exc: SendFailed, bound: Any) -> None:
        if exc.permanent or delivery.attempts >= self._max_attempts:
            code = exc.code if exc.permanent else "retries_exhausted"
            reason = exc.reason if exc.permanent else f"{exc.code}: {exc.reason}"
            await self._repository.fail(delivery.id, code, reason)
            bound.warning("delivery_failed", code=code, reason=reason)
            return
        retry_after = exc.retry_after
        wait = timedelta(seconds=retry_after) if retry_after else backoff(delivery.attempts)
        await self._repository.retry_later(delivery.id, exc.code, exc.reason, wait)
        bound.info("delivery_retry", code=exc.code, in_seconds=wait.total_seconds())

    async def run_once(self) -> int:
        """Claim and send one batch; returns how many deliveries were tried. Claims carry
        the worker's id while `run` holds a lease, and none in a one-off `drain`."""
        batch = await self._repository.claim(self._batch_size, self._worker_id)
        if batch:
            # Sends run side by side; each connector paces its own account and chats.
            await asyncio.gather(*(self._send(delivery) for delivery in batch))
        return len(batch)

    async def recover(self) -> None:
        """Take back the claims of dead workers (and stale ones); see the module docstring."""
        recovered = await self._repository.recover(INTERRUPTED_AFTER)
        if recovered.requeued:
            log.warning("deliveries_requeued", count=recovered.requeued)
        if recovered.interrupted:
            log.warning("deliveries_interrupted", count=recovered.interrupted)

    async def run(self) -> None:
        """Send until cancelled, holding a lease; claims left by dead workers are taken back
        at once and then every RECOVER_EVERY seconds."""
        loop = asyncio.get_running_loop()
        lease = self._repository.lease()
        next_recovery = 0.0

        async def recover_then_send() -> int:
            nonlocal next_recovery
            # Checked before every claim: a claim is never written under a lost lease.
            self._worker_id = await lease.ensure()
            if loop.time() >= next_recovery:
                next_recovery = loop.time() + RECOVER_EVERY
                await self.recover()
            return await self.run_once()

        try:
            await work_forever(
                recover_then_send, self._outbox.wakeup, idle_poll=self._idle_poll, name="delivery"
            )
        finally:
            self._worker_id = None
            await lease.release()

    async def drain(self) -> int:
        """Send until nothing is due now; returns how many sends were tried."""
        total = 0
        while done := await self.run_once():
            total += done
        return total
