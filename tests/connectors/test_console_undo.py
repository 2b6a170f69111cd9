"""Undoing a sending in the console, in a real browser (Debian's Chromium driven by
Playwright): an answer the operator sends waits a few seconds in the page, listed in a bar
with its Desfazer, and `z` takes it back before anything reaches the gateway, let alone the
customer. Leaving the page sends what waits; an answer that could not go is said in the bar
even when the operator is on another message. Screenshots go to tests/artifacts/console/.
"""

from __future__ import annotations

import asyncio
import re

from tests.conftest import issue_key, query_sql
from tests.connectors.conftest import send_telegram_texts
from tests.connectors.test_console_browser import WAIT_MS, browser, shot
from tests.connectors.test_console_close import arrived, stored
from tests.connectors.test_console_together import ANSWER as BURST_ANSWER
from tests.connectors.test_console_together import HELLO, MORNING, page_key, send_burst
from tests.connectors.test_console_together import QUESTION as BURST_QUESTION
from tests.connectors.test_console_work import DESKTOP, sign_in
from tests.routing_helpers import API, import_kb

QUESTION = "Qual é o prazo de entrega para o Nordeste?"
ANSWER = "Para o Nordeste a entrega leva de 5 a 8 dias úteis."
ASKED = "Qual o prazo de entrega pro Nordeste?"
EDITED = "Oi, Maria! Para o Nordeste a entrega leva de 5 a 8 dias úteis."
OTHER = "Vocês abrem no sábado?"
REPLY = "Abrimos, sim: aos sábados das 9h às 13h."


async def suggested(page, text: str) -> int:
    """The id of the message with `text`, once it has a suggestion."""
    item = page.locator("#queue-list li", has_text=text)
    await item.locator(".badge.ai").wait_for(timeout=WAIT_MS)
    return int(await item.get_attribute("data-id") or 0)


async def traces(db: str, message_id: int) -> dict[str, object]:
    """What an approval leaves in the database: the row's state, its reviews, its deliveries."""
    [row] = await query_sql(
        db,
        "SELECT validated_by, answer,"
        " (SELECT count(*) FROM suggestion_reviews WHERE interaction_id = :id) AS reviews,"
        " (SELECT count(*) FROM deliveries WHERE interaction_id = :id) AS deliveries"
        " FROM chat_interactions WHERE id = :id",
        id=message_id,
    )
    return row


async def signed_in(new_page, client, db: str):
    """Ana, an operator, signed in on a desktop page of her own."""
    ana = await new_page(DESKTOP)
    await sign_in(ana, client, await issue_key(db, "operator", name="ana"), "Ana")
    return ana


async def telegram_got(fake_telegram, text: str, within: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not any(sent["text"] == text for sent in fake_telegram.sent):
        assert asyncio.get_running_loop().time() < deadline, f"Telegram never got {text!r}"
        await asyncio.sleep(0.1)


async def test_z_takes_an_answer_back_before_anything_is_sent(
    live_client, channel_settings, fake_telegram
):
    client = live_client
    await import_kb(client, [{"question": QUESTION, "answer": ANSWER, "sector": "vendas"}])
    await send_telegram_texts(client, [(ASKED, 4242, "Maria")])
    db = channel_settings.async_database_url or ""

    async with browser() as new_page:
        ana = await signed_in(new_page, client, db)
        message_id = await suggested(ana, ASKED)
        await ana.click(f'#queue-list li[data-id="{message_id}"]')
        await ana.locator("#suggestion-text").wait_for(timeout=WAIT_MS)

        # `a` approves: the answer waits in the page (5 s by default), listed in the bar;
        # the message leaves the queue as it will once sent, and its actions are off.
        await page_key(ana, "a")
        line = ana.locator("#sending-bar .sending-line")
        await line.wait_for(timeout=WAIT_MS)
        assert (await line.locator(".sending-left").inner_text()).startswith(
            f"Resposta à mensagem #{message_id} sai em "
        )
        await ana.locator("#queue-empty").wait_for(timeout=WAIT_MS)
        assert await ana.inner_text("#queue-count") == "0"
        assert await ana.get_by_role("button", name="Aprovar", exact=True).is_disabled()
        assert await ana.locator("#answer").is_disabled()
        await ana.locator("#undo-send").wait_for(timeout=WAIT_MS)
        assert "z desfaz" in await ana.inner_text("#announce")
        await shot(ana, "60-answer-waiting-to-go")

        # `z`: it comes back, as it was, and nothing of it reached the gateway.
        await page_key(ana, "z")
        await ana.locator("#sending-bar").wait_for(state="hidden", timeout=WAIT_MS)
        status = ana.locator("#action-status", has_text="Envio desfeito: nada foi enviado")
        await status.wait_for(timeout=WAIT_MS)
        await ana.locator(f'#queue-list li[data-id="{message_id}"]').wait_for(timeout=WAIT_MS)
        assert await ana.inner_text("#queue-count") == "1"
        assert not await ana.get_by_role("button", name="Aprovar", exact=True).is_disabled()
        await asyncio.sleep(6)  # past the moment it would have gone
        assert await traces(db, message_id) == {
            "validated_by": "ai",
            "answer": ANSWER,
            "reviews": 0,
            "deliveries": 0,
        }
        assert fake_telegram.sent == []

        # Edited and sent with Ctrl+Enter, then undone from the bar: the edited text is
        # back in the answer box, with the cursor in it.
        await ana.fill("#answer", EDITED)
        await ana.press("#answer", "Control+Enter")
        await line.wait_for(timeout=WAIT_MS)
        assert await ana.input_value("#answer") == EDITED  # shown while it waits
        undo = f"Desfazer o envio da resposta à mensagem #{message_id}"
        await line.get_by_role("button", name=undo).click()
        await ana.locator("#answer:focus").wait_for(timeout=WAIT_MS)
        assert await ana.input_value("#answer") == EDITED

        # Sent again and left to go: the customer gets the edited answer, once.
        await ana.press("#answer", "Control+Enter")
        await ana.locator("#detail-state", has_text="aprovada por Ana").wait_for(timeout=WAIT_MS)
        await telegram_got(fake_telegram, EDITED)
        assert [sent["text"] for sent in fake_telegram.sent] == [EDITED]
        assert await ana.locator("#sending-bar").is_hidden()
        assert (await traces(db, message_id))["reviews"] == 1


async def test_leaving_the_page_sends_what_waits_and_the_wait_is_the_operators_choice(
    live_client, channel_settings, fake_telegram
):
    client = live_client
    await send_telegram_texts(client, [(OTHER, 4242, "Maria"), (ASKED, 6262, "João")])
    db = channel_settings.async_database_url or ""

    async with browser() as new_page:
        ana = await signed_in(new_page, client, db)
        other = await arrived(ana, OTHER)
        await ana.click(f'#queue-list li[data-id="{other}"]')
        await ana.fill("#answer", REPLY)
        await ana.get_by_role("button", name="Responder", exact=True).click()
        await ana.locator("#sending-bar .sending-line").wait_for(timeout=WAIT_MS)

        # A reload before the wait is over: the answer goes as the page goes.
        await ana.reload()
        await ana.wait_for_selector("#live-status.on", timeout=WAIT_MS)
        await telegram_got(fake_telegram, REPLY, within=4)  # sooner than the wait
        assert (await stored(client, other))["validated_by"] == "human"
        assert await ana.locator("#sending-bar").is_hidden()

        # No wait, chosen in the keys' help: the next answer goes at once, and the choice
        # outlives the reload (it is this browser's).
        await page_key(ana, "?")
        await ana.select_option("#undo-seconds", "0")
        await ana.keyboard.press("Escape")
        await ana.reload()
        await ana.wait_for_selector("#live-status.on", timeout=WAIT_MS)
        assert await ana.input_value("#undo-seconds") == "0"
        asked = await arrived(ana, ASKED)
        await ana.click(f'#queue-list li[data-id="{asked}"]')
        await ana.fill("#answer", REPLY)
        await ana.get_by_role("button", name="Responder", exact=True).click()
        await ana.locator("#detail-state", has_text="aprovada por Ana").wait_for(timeout=WAIT_MS)
        assert await ana.locator("#sending-bar").is_hidden()
        assert (await stored(client, asked))["answer"] == REPLY


async def test_an_answer_that_could_not_go_is_said_in_the_bar(
    live_client, channel_settings, fake_telegram
):
    client = live_client
    await import_kb(client, [{"question": QUESTION, "answer": ANSWER, "sector": "vendas"}])
    await send_telegram_texts(client, [(ASKED, 4242, "Maria"), (OTHER, 6262, "João")])
    db = channel_settings.async_database_url or ""

    # Chromium logs the refused approval itself; that one error is the point here.
    async with browser(expected=("409 (Conflict)",)) as new_page:
        ana = await signed_in(new_page, client, db)
        message_id = await suggested(ana, ASKED)
        other = await arrived(ana, OTHER)
        await ana.click(f'#queue-list li[data-id="{message_id}"]')
        await ana.locator("#suggestion-text").wait_for(timeout=WAIT_MS)
        await page_key(ana, "a")
        await ana.locator("#sending-bar .sending-line").wait_for(timeout=WAIT_MS)
        # Ana goes on to the next message; Bruno answers hers meanwhile, from the API.
        await page_key(ana, "n")
        await ana.locator("#customer-message", has_text=OTHER).wait_for(timeout=WAIT_MS)
        response = await client.post(
            f"{API}/operator/messages/{message_id}/approve", json={"operator_name": "Bruno"}
        )
        assert response.status == 200

        failure = ana.locator("#sending-bar .sending-line.error[role='alert']")
        await failure.wait_for(timeout=WAIT_MS)
        assert f"A resposta à mensagem #{message_id} não foi enviada" in await failure.inner_text()
        await shot(ana, "61-answer-that-did-not-go")
        await failure.get_by_role("button", name=f"Abrir a mensagem #{message_id}").click()
        await ana.locator("#detail-state", has_text="aprovada por Bruno").wait_for(timeout=WAIT_MS)
        assert await ana.locator("#sending-bar").is_hidden()
        await telegram_got(fake_telegram, ANSWER)
        assert [sent["text"] for sent in fake_telegram.sent] == [ANSWER]  # Bruno's, once
        assert (await stored(client, other))["validated_by"] == "pending"


async def test_the_sending_bar_covers_no_line_of_the_queue(live_client, channel_settings):
    client = live_client
    customers = [(f"Pergunta {n} sobre o meu pedido", 7000 + n, f"Cliente {n}") for n in range(20)]
    await send_telegram_texts(client, customers)
    db = channel_settings.async_database_url or ""

    async with browser() as new_page:
        ana = await signed_in(new_page, client, db)
        queue = ana.locator("#queue-list li")
        await queue.nth(19).wait_for(timeout=WAIT_MS)
        for n in range(2):
            first = await queue.first.get_attribute("data-id")
            await queue.first.click()
            await ana.locator("#detail h2", has_text=re.compile(rf"#{first}$")).wait_for()
            if n == 0:
                await page_key(ana, "?")
                await ana.select_option("#undo-seconds", "30")  # the bar stays to be measured
                await ana.keyboard.press("Escape")
            await ana.fill("#answer", REPLY)
            await ana.press("#answer", "Control+Enter")
        await ana.locator("#sending-bar .sending-line").nth(1).wait_for(timeout=WAIT_MS)

        # The queue and the page scrolled to their ends: the queue's last line and the
        # open message's last controls sit above the bar, not under it.
        await ana.eval_on_selector("#queue-list", "list => { list.scrollTop = list.scrollHeight; }")
        await ana.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
        bar = await ana.locator("#sending-bar").bounding_box()
        assert bar is not None
        for last in (queue.last, ana.locator("#detail")):
            box = await last.bounding_box()
            assert box is not None
            assert box["y"] + box["height"] <= bar["y"]
        await shot(ana, "sending-bar-over-a-long-queue")


async def test_leaving_the_page_while_an_answer_waits_closes_the_lines_ticked_beside_it(
    live_client, channel_settings, fake_telegram
):
    client = live_client
    await send_burst(client)
    db = channel_settings.async_database_url or ""

    async with browser() as new_page:
        ana = await signed_in(new_page, client, db)
        hello, morning, question = [await arrived(ana, t) for t in (HELLO, MORNING, BURST_QUESTION)]
        await ana.click(f'#queue-list li[data-id="{question}"]')
        await ana.locator("#together .together-tick").first.wait_for(timeout=WAIT_MS)
        await page_key(ana, "b")
        await ana.fill("#answer", BURST_ANSWER)
        await ana.get_by_role("button", name="Responder", exact=True).click()
        await ana.locator("#sending-bar .sending-line").wait_for(timeout=WAIT_MS)

        # Gone elsewhere before the wait is over, so the page never hears back from the
        # answer's call: the lines ticked beside it leave the queue with it all the same.
        await ana.goto("about:blank")
        await telegram_got(fake_telegram, BURST_ANSWER, within=10)
        for line in (hello, morning):
            row = await stored(client, line)
            assert (row["close_reason"], row["closed_by"]) == ("answered_together", "Ana")
        assert [(s["chat_id"], s["text"]) for s in fake_telegram.sent] == [("4242", BURST_ANSWER)]
