"""A customer's burst of messages in the console, in a real browser (Debian's Chromium driven
by Playwright): a Telegram customer writes "oi", "bom dia" and their question as three
messages. The queue marks each with how many more of theirs wait; the question's detail
lists the other two under it, to tick; answering the question closes the ticked ones as
answered together, and sends the customer one answer. A line a colleague took meanwhile
cannot be ticked and stays with them; its holder closes it from the reasons, where
"already answered in another message" is offered once the customer got an answer after it.
On a phone's width. Screenshots go to tests/artifacts/console/.
"""

from __future__ import annotations

import asyncio

from tests.conftest import issue_key
from tests.connectors.conftest import post_telegram, send_telegram_texts, telegram_text_update
from tests.connectors.test_console_browser import WAIT_MS, browser, shot
from tests.connectors.test_console_close import arrived, listed, queued, stored
from tests.connectors.test_console_work import (
    DESKTOP,
    PHONE,
    ana_and_bruno,
    no_sideways_scroll,
    sign_in,
)
from tests.routing_helpers import API

HELLO, MORNING = "oi", "bom dia"
QUESTION = "meu pix nao caiu ainda, ja faz 1 hora"
OTHER = "Vocês abrem no sábado?"
ANSWER = "Oi, Maria! O Pix pode levar até 2 horas em horário de pico; já verifiquei o seu."


async def page_key(page, key: str) -> None:
    """A key pressed on the page itself, not in a field."""
    await page.locator("#customer-message").click()
    await page.keyboard.press(key)


async def send_burst(client) -> None:
    burst = [(HELLO, 4242, "Maria"), (MORNING, 4242, "Maria"), (QUESTION, 4242, "Maria")]
    await send_telegram_texts(client, [*burst, (OTHER, 6262, "João")])


async def test_answering_a_burst_closes_the_lines_the_operator_ticked(
    live_client, channel_settings, fake_telegram
):
    client = live_client
    await send_burst(client)
    db = channel_settings.async_database_url or ""

    async with browser() as new_page:
        ana, bruno, _ = await ana_and_bruno(new_page, client, db)
        ids = [await arrived(ana, text) for text in (HELLO, MORNING, QUESTION, OTHER)]
        hello, morning, question, other = ids
        await ana.locator(f'#queue-list li[data-id="{other}"]').wait_for(timeout=WAIT_MS)
        assert await listed(ana) == ids

        # The queue says, by each of Maria's lines, that two more of hers wait; João has one.
        for message_id in (hello, morning, question):
            badge = ana.locator(f'#queue-list li[data-id="{message_id}"] .together-badge')
            assert await badge.inner_text() == "+2 deste cliente"
            assert await badge.get_attribute("title") == "Este cliente tem 3 mensagens nesta fila"
        assert await ana.locator(f'#queue-list li[data-id="{other}"] .together-badge').count() == 0

        # Her question's detail lists the other two, oldest first, none ticked.
        await ana.click(f'#queue-list li[data-id="{question}"]')
        together = ana.locator("#together")
        await together.wait_for(timeout=WAIT_MS)
        assert await together.locator("h3").text_content() == "Também esperando deste cliente (2)"
        lines = together.locator("li")
        assert await lines.evaluate_all("items => items.map((i) => Number(i.dataset.id))") == [
            hello,
            morning,
        ]
        assert await together.locator(".together-text").all_inner_texts() == [HELLO, MORNING]
        ticks = together.locator(".together-tick")
        assert [await ticks.nth(i).is_checked() for i in range(2)] == [False, False]
        # `b` ticks them all, again unticks them all; the third time they are ticked.
        await page_key(ana, "b")
        assert [await ticks.nth(i).is_checked() for i in range(2)] == [True, True]
        await page_key(ana, "b")
        assert [await ticks.nth(i).is_checked() for i in range(2)] == [False, False]
        await ticks.nth(1).check()
        await page_key(ana, "b")
        assert [await ticks.nth(i).is_checked() for i in range(2)] == [True, True]
        await ana.fill("#answer", ANSWER)
        await shot(ana, "44-burst-ticked")

        # Bruno takes "bom dia" meanwhile: Ana's page, live, no longer lets her tick it.
        response = await client.post(
            f"{API}/operator/messages/{morning}/take", json={"operator_name": "Bruno"}
        )
        assert response.status == 200
        held = together.locator(f'li[data-id="{morning}"]')
        await held.locator(".when", has_text="com Bruno").wait_for(timeout=WAIT_MS)
        assert await held.locator(".together-tick").is_disabled()
        assert await held.locator(".together-tick").is_checked() is False
        assert await together.locator(f'li[data-id="{hello}"] .together-tick').is_checked()
        assert await ana.input_value("#answer") == ANSWER  # the live redraw kept the answer

        await ana.get_by_role("button", name="Responder", exact=True).click()
        await ana.locator(
            "#action-status", has_text="A outra mensagem marcada saiu da fila (respondida junto)."
        ).wait_for(timeout=WAIT_MS)
        deadline = asyncio.get_running_loop().time() + 30
        while not fake_telegram.sent:
            assert asyncio.get_running_loop().time() < deadline, "Telegram got no answer"
            await asyncio.sleep(0.1)
        # One answer went to Maria, nothing for the lines it covered.
        await asyncio.sleep(0.5)
        assert [(s["chat_id"], s["text"]) for s in fake_telegram.sent] == [("4242", ANSWER)]

        closed = await stored(client, hello)
        assert (closed["close_reason"], closed["closed_by"]) == ("answered_together", "Ana")
        assert (await stored(client, morning))["closed_at"] is None
        assert await queued(client) == [morning, other]
        for page in (ana, bruno):
            await page.locator(f'#queue-list li[data-id="{hello}"]').wait_for(
                state="detached", timeout=WAIT_MS
            )
        # One line of hers is left in the queue: no count by it.
        await ana.locator(f'#queue-list li[data-id="{morning}"] .together-badge').wait_for(
            state="detached", timeout=WAIT_MS
        )
        # The answered question lists "bom dia", still waiting, with nothing to tick.
        await together.locator(f'li[data-id="{morning}"]').wait_for(timeout=WAIT_MS)
        assert await together.locator(f'li[data-id="{hello}"]').count() == 0
        assert await together.locator(".together-tick").count() == 0
        await shot(ana, "45-burst-answered")

        # The history and the conversation say what became of "oi".
        history = ana.locator(".history li", has_text=f"#{hello}")
        assert "respondida junto" in await history.locator(".when").inner_text()
        await ana.keyboard.press("c")
        turn = ana.locator(f'#thread li[data-id="{hello}"]')
        await turn.wait_for(timeout=WAIT_MS)
        assert (
            await turn.locator(".closed-turn").inner_text()
            == "respondida junto com outra mensagem · por Ana"
        )
        await shot(ana, "46-burst-in-conversation")

        # Bruno, who holds "bom dia", is offered that it was answered in another message.
        await bruno.click(f'#queue-list li[data-id="{morning}"]')
        await bruno.locator("#detail-assigned", has_text="você").wait_for(timeout=WAIT_MS)
        await bruno.click("#close-without-reply")
        choice = bruno.locator("#close-choice")
        await choice.wait_for(timeout=WAIT_MS)
        assert await choice.locator("button").all_inner_texts() == [
            "Já respondida em outra mensagem",
            "Não precisa de resposta",
            "Spam",
            "Mensagem repetida",
            "Cancelar",
        ]
        await choice.get_by_role("button", name="Já respondida em outra mensagem").click()
        await bruno.locator(
            "#detail-state", has_text="encerrada por Bruno (respondida junto com outra mensagem)"
        ).wait_for(timeout=WAIT_MS)
        notice = await bruno.inner_text("#closed-notice")
        assert notice.startswith("Respondida junto com outra mensagem deste cliente: Bruno")
        assert await queued(client) == [other]
        await shot(bruno, "47-closed-as-answered-together")

        # João, who got no answer, is not offered it.
        await bruno.click(f'#queue-list li[data-id="{other}"]')
        await bruno.locator("#customer-message", has_text=OTHER).wait_for(timeout=WAIT_MS)
        assert await bruno.locator("#together").count() == 0
        await bruno.click("#close-without-reply")
        await choice.wait_for(timeout=WAIT_MS)
        assert "Já respondida em outra mensagem" not in await choice.inner_text()
        assert len(fake_telegram.sent) == 1


async def test_a_burst_on_a_phone(live_client, channel_settings):
    client = live_client
    await send_burst(client)
    key = await issue_key(channel_settings.async_database_url or "", "operator", name="ana")
    async with browser() as new_page:
        phone = await new_page(PHONE)
        await sign_in(phone, client, key, "Ana")
        question = await arrived(phone, QUESTION)
        await phone.click(f'#queue-list li[data-id="{question}"]')
        await phone.locator("#together .together-tick").first.wait_for(timeout=WAIT_MS)
        await no_sideways_scroll(phone)
        await shot(phone, "48-burst-phone")


async def test_a_new_line_from_the_customer_while_the_operator_types_keeps_the_cursor(
    live_client, channel_settings, fake_telegram
):
    client = live_client
    await send_telegram_texts(client, [(QUESTION, 4242, "Maria")])
    key = await issue_key(channel_settings.async_database_url or "", "operator", name="ana")
    async with browser() as new_page:
        page = await new_page(DESKTOP)
        await sign_in(page, client, key, "Ana")
        question = await arrived(page, QUESTION)
        await page.click(f'#queue-list li[data-id="{question}"]')
        await page.locator("#customer-message", has_text=QUESTION).wait_for(timeout=WAIT_MS)
        await page.click("#answer")
        await page.keyboard.type("Oi, Maria! ")

        # She writes again: the detail is drawn anew, live, with her new line listed.
        later = telegram_text_update(9, 99, "alguem ai??", user_id=4242, name="Maria")
        assert (await post_telegram(client, later)).status == 200
        await page.locator("#together li", has_text="alguem ai??").wait_for(timeout=WAIT_MS)
        # The cursor stayed in the answer: what is typed next (`a` approves elsewhere) is text.
        assert await page.evaluate("document.activeElement.id") == "answer"
        await page.keyboard.type("Já estou vendo o seu Pix, aguarde.")
        assert await page.input_value("#answer") == "Oi, Maria! Já estou vendo o seu Pix, aguarde."
        assert fake_telegram.sent == []
        assert (await stored(client, question))["validated_by"] == "pending"


async def test_a_line_a_colleague_takes_as_the_answer_goes_stays_in_the_queue_and_is_named(
    live_client, channel_settings, fake_telegram
):
    client = live_client
    await send_burst(client)
    key = await issue_key(channel_settings.async_database_url or "", "operator", name="ana")
    async with browser() as new_page:
        page = await new_page(DESKTOP)
        await sign_in(page, client, key, "Ana")
        hello, morning, question = [await arrived(page, t) for t in (HELLO, MORNING, QUESTION)]
        await page.click(f'#queue-list li[data-id="{question}"]')
        await page.locator("#together .together-tick").first.wait_for(timeout=WAIT_MS)
        await page.check(f"#together-tick-{hello}")
        await page.check(f"#together-tick-{morning}")

        # Bruno takes "bom dia" in the instant before Ana's answer reaches the gateway.
        async def bruno_first(route):
            body = {"operator_name": "Bruno"}
            await client.post(f"{API}/operator/messages/{morning}/take", json=body)
            await route.continue_()

        await page.route(f"**/api/v1/operator/messages/{question}/approve", bruno_first)
        await page.fill("#answer", ANSWER)
        await page.get_by_role("button", name="Responder", exact=True).click()
        status = page.locator("#action-status.error")
        await status.wait_for(timeout=WAIT_MS)
        text = await status.inner_text()
        assert "A outra mensagem marcada saiu da fila (respondida junto)." in text
        refused = f"A mensagem #{morning} não foi encerrada: message {morning} is taken by Bruno"
        assert refused in text
        assert (await stored(client, hello))["close_reason"] == "answered_together"
        held = await stored(client, morning)
        assert (held["closed_at"], held["assigned_to"]) == (None, "Bruno")
        assert await queued(client) == [morning, await arrived(page, OTHER)]


async def test_a_burst_longer_than_the_history_is_listed_and_answered_whole(
    live_client, channel_settings, fake_telegram
):
    client = live_client
    lines = [f"linha {i} do meu pedido" for i in range(1, 14)]  # 13: the history shows 10
    await send_telegram_texts(client, [(line, 4242, "Maria") for line in lines])
    key = await issue_key(channel_settings.async_database_url or "", "operator", name="ana")
    async with browser() as new_page:
        page = await new_page(DESKTOP)
        await sign_in(page, client, key, "Ana")
        last = await arrived(page, lines[-1])
        ids = await queued(client)
        assert len(ids) == 13
        await page.click(f'#queue-list li[data-id="{last}"]')
        together = page.locator("#together")
        await together.locator(f'li[data-id="{ids[0]}"]').wait_for(timeout=WAIT_MS)
        # Every other line of hers, oldest first: the first three are older than the
        # history's latest ten.
        assert await together.locator("h3").text_content() == "Também esperando deste cliente (12)"
        assert (
            await together.locator("li").evaluate_all(
                "items => items.map((i) => Number(i.dataset.id))"
            )
            == ids[:-1]
        )
        await page_key(page, "b")
        await page.fill("#answer", ANSWER)
        await page.get_by_role("button", name="Responder", exact=True).click()
        await page.locator(
            "#action-status", has_text="As 12 outras mensagens marcadas saíram da fila"
        ).wait_for(timeout=WAIT_MS)
        assert await queued(client) == []
        deadline = asyncio.get_running_loop().time() + 30
        while not fake_telegram.sent:
            assert asyncio.get_running_loop().time() < deadline, "Telegram got no answer"
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)  # nothing more goes to her for the twelve lines
        assert [(s["chat_id"], s["text"]) for s in fake_telegram.sent] == [("4242", ANSWER)]
