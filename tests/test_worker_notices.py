"""An `atende worker` idle for its long poll starts on the gateway's notices
(storage.notices), as a real subprocess beside a gateway with no worker of its own."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from tests.routing_helpers import import_kb
from tests.worker_stack import (
    CUSTOMER_TEXTS,
    KB_ANSWER,
    KB_QUESTION,
    Stack,
    approved_delivery,
    eventually,
    send_calls,
    sql,
    telegram_message,
)


async def test_an_idle_worker_starts_on_the_gateways_notices_not_its_poll(stack: Stack):
    """With a minute between its looks at the queues, the worker embeds, suggests and
    sends within seconds: the gateway's notices wake it (storage.notices)."""
    await import_kb(
        stack.client, [{"question": KB_QUESTION, "sector": "financeiro", "answer": KB_ANSWER}]
    )
    stack.workers.env["ATENDE_WORKER_IDLE_POLL_SECONDS"] = "60"
    stack.workers.start()

    def logged(event: str) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            return stack.workers.logs().count(f'"event": "{event}"') > 0

        return check

    await eventually(logged("notices_listening"), "the worker listening")
    # Its first looks (at the start, and on connecting) found nothing: it now waits.
    await asyncio.sleep(1.0)
    soon = 15.0
    # A customer's message: stored by the gateway, suggested and auto-sent by the worker.
    asked = await telegram_message(stack, 1, CUSTOMER_TEXTS[0], user_id=9001)

    async def suggested() -> bool:
        [row] = await sql(
            stack.client,
            "SELECT answer, pipeline_done_at FROM chat_interactions WHERE id = :i",
            i=asked,
        )
        return row["pipeline_done_at"] is not None and row["answer"] == KB_ANSWER

    try:
        await eventually(suggested, "the message suggested", within=soon)
        await eventually(
            lambda: asyncio.sleep(0, len(send_calls(stack.telegram)) == 1),
            "the auto-sent answer",
            within=soon,
        )
        # An operator's approval in the gateway: the worker's delivery loop is woken too.
        await approved_delivery(stack, 2, 9002, "Sua fatura já foi paga.")
        await eventually(
            lambda: asyncio.sleep(0, len(send_calls(stack.telegram)) == 2),
            "the approved answer",
            within=soon,
        )
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{stack.workers.logs()}") from None
    assert [c["text"] for c in send_calls(stack.telegram)] == [KB_ANSWER, "Sua fatura já foi paga."]
