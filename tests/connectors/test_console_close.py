"""Encerrar sem resposta in the console, in a real browser (Debian's Chromium driven by
Playwright): an operator closes a Telegram customer's "ok, obrigado!" by keyboard (`x`, a
reason) and one spam by mouse, without anything sent to the customer; both leave the
queue, on a colleague's page too, live; the conversation says who closed it and why;
Reabrir puts it back in its place. A message another operator holds cannot be closed
(the button is off, and a page that did not know is told the API's 409). On a phone's
width and in English. Screenshots go to tests/artifacts/console/.
"""

from __future__ import annotations

from tests.conftest import bearer, issue_key
from tests.connectors.conftest import deliveries, send_telegram_texts
from tests.connectors.test_console_browser import WAIT_MS, browser, shot
from tests.connectors.test_console_work import (
    DESKTOP,
    PHONE,
    ana_and_bruno,
    no_sideways_scroll,
    sign_in,
)
from tests.routing_helpers import API, post, wait_until_triaged

THANKS = "ok, obrigado!"
SPAM = "GANHE 5 MIL POR SEMANA trabalhando em casa, clique no link da bio"
ORDER = "Meu pedido ainda não chegou, vocês podem ver?"
REASONS_PT = ["Não precisa de resposta", "Spam", "Mensagem repetida", "Cancelar"]


async def stored(client, message_id: int) -> dict:
    response = await client.get(f"{API}/messages/{message_id}")
    assert response.status == 200
    return await response.json()


async def queued(client) -> list[int]:
    """The ids the API's queue lists, oldest first."""
    response = await client.get(f"{API}/operator/queue", params={"per_page": "100"})
    assert response.status == 200
    return [message["id"] for message in (await response.json())["items"]]


async def listed(page) -> list[int]:
    """The ids the page's queue lists, oldest first."""
    return [
        int(i)
        for i in await page.locator("#queue-list li").evaluate_all(
            "items => items.map((item) => item.dataset.id)"
        )
    ]


async def focused(page) -> str:
    return await page.evaluate(
        "document.activeElement.id || document.activeElement.dataset.choice || ''"
    )


async def arrived(page, text: str) -> int:
    """The id of the message with `text`, once routed (it waits for no suggestion)."""
    item = page.locator("#queue-list li", has_text=text)
    await item.locator(".badge.pending").wait_for(timeout=WAIT_MS)
    return int(await item.get_attribute("data-id") or 0)


async def send_updates(client) -> None:
    await send_telegram_texts(
        client, [(THANKS, 4242, "Maria"), (SPAM, 5151, "Promo"), (ORDER, 6262, "João")]
    )


async def test_an_operator_closes_messages_without_answering_and_reopens_one(
    live_client, channel_settings, fake_telegram
):
    client = live_client
    await send_updates(client)
    db = channel_settings.async_database_url or ""

    async with browser() as new_page:
        ana, bruno, ana_key = await ana_and_bruno(new_page, client, db)
        ids = [await arrived(ana, text) for text in (THANKS, SPAM, ORDER)]
        thanks, spam, order = ids
        for page in (ana, bruno):
            for message_id in ids:
                await page.locator(f'#queue-list li[data-id="{message_id}"]').wait_for(
                    timeout=WAIT_MS
                )
        assert await listed(ana) == ids

        await ana.click(f'#queue-list li[data-id="{thanks}"]')
        await ana.locator("#customer-message", has_text=THANKS).wait_for(timeout=WAIT_MS)
        close = ana.locator("#close-without-reply")
        assert await close.inner_text() == "Encerrar sem resposta"
        assert await close.is_enabled()
        choice = ana.locator("#close-choice")

        # `x` is a letter like any other while typing.
        await ana.click("#answer")
        await ana.keyboard.type("x")
        assert await ana.input_value("#answer") == "x"
        assert await choice.count() == 0
        await ana.fill("#answer", "")

        # `x` asks why, in the page; Esc cancels and nothing is closed.
        await ana.locator("#customer-message").click()
        await ana.keyboard.press("x")
        await choice.wait_for(timeout=WAIT_MS)
        assert await choice.locator("button").all_inner_texts() == REASONS_PT
        assert await focused(ana) == "no_reply_needed"
        assert await close.get_attribute("aria-expanded") == "true"
        await ana.keyboard.press("Escape")
        await choice.wait_for(state="detached", timeout=WAIT_MS)
        assert await focused(ana) == "close-without-reply"
        assert (await stored(client, thanks))["closed_at"] is None

        # `x` again, and Enter takes the focused reason: it needs no reply.
        await ana.locator("#customer-message").click()
        await ana.keyboard.press("x")
        await choice.wait_for(timeout=WAIT_MS)
        await ana.keyboard.press("ArrowRight")
        assert await focused(ana) == "spam"
        await ana.keyboard.press("ArrowLeft")
        assert await focused(ana) == "no_reply_needed"
        await shot(ana, "30-close-choice")
        await ana.keyboard.press("Enter")
        await ana.locator(
            "#detail-state", has_text="encerrada por Ana (não precisa de resposta)"
        ).wait_for(timeout=WAIT_MS)
        status = await ana.inner_text("#action-status")
        assert "Encerrada: não precisa de resposta" in status
        assert "próxima livre" in status
        notice = await ana.inner_text("#closed-notice")
        assert "Encerrada sem resposta por Ana" in notice
        assert "nada foi enviado ao cliente" in notice
        reopen = ana.locator("#reopen-message")
        assert await reopen.inner_text() == "Reabrir"
        assert await close.count() == 0  # Reabrir is where it was
        assert await ana.locator("#answer").is_disabled()
        for name in ("Aprovar", "Editar e aprovar", "Rejeitar", "Responder"):
            assert await ana.get_by_role("button", name=name, exact=True).is_disabled()
        assert await ana.locator("#take").count() == 0  # nothing to take or transfer

        # It left the queue: this page's, the colleague's (live), the API's.
        for page in (ana, bruno):
            await page.locator(f'#queue-list li[data-id="{thanks}"]').wait_for(
                state="detached", timeout=WAIT_MS
            )
            assert await listed(page) == [spam, order]
        assert await queued(client) == [spam, order]
        closed = await stored(client, thanks)
        assert (closed["closed_by"], closed["close_reason"]) == ("Ana", "no_reply_needed")
        assert closed["closed_at"] is not None
        assert closed["assigned_to"] is None
        assert closed["answer"] is None
        # Nothing was said to the customer, nor queued to be.
        assert fake_telegram.sent == []
        assert await deliveries(client) == []
        await shot(ana, "31-closed-without-reply")

        # The conversation says it where the answer would be.
        await ana.keyboard.press("c")
        turn = ana.locator(f'#thread li[data-id="{thanks}"]')
        await turn.wait_for(timeout=WAIT_MS)
        assert (
            "encerrada sem resposta · não precisa de resposta · por Ana"
            in await turn.locator(".closed-turn").inner_text()
        )
        await shot(ana, "32-closed-in-conversation")
        await ana.click("#back-to-message")

        # Reabrir: back in the queue, in its place (it arrived first), on both pages.
        await reopen.click()
        await ana.locator("#action-status", has_text="Reaberta").wait_for(timeout=WAIT_MS)
        await ana.locator("#detail-state", has_text="sem resposta").wait_for(timeout=WAIT_MS)
        assert "encerrada" not in await ana.inner_text("#detail-state")
        assert await ana.locator("#closed-notice").count() == 0
        await close.wait_for(timeout=WAIT_MS)
        assert await close.is_enabled()
        assert await ana.locator("#answer").is_enabled()
        for page in (ana, bruno):
            await page.locator(f'#queue-list li[data-id="{thanks}"]').wait_for(timeout=WAIT_MS)
            assert await listed(page) == ids
        assert await queued(client) == ids
        reopened = await stored(client, thanks)
        assert [reopened[f] for f in ("closed_at", "closed_by", "close_reason")] == [None] * 3

        # Spam, by mouse; Bruno, who has it open, sees it closed and gone, live.
        await bruno.click(f'#queue-list li[data-id="{spam}"]')
        await bruno.locator("#customer-message", has_text=SPAM).wait_for(timeout=WAIT_MS)
        # `n`, as the status line said: the oldest free one but the open one.
        await ana.locator("#customer-message").click()
        await ana.keyboard.press("n")
        await ana.locator("#customer-message", has_text=SPAM).wait_for(timeout=WAIT_MS)
        await close.click()
        await choice.get_by_role("button", name="Spam", exact=True).click()
        await ana.locator("#action-status", has_text="Encerrada: spam").wait_for(timeout=WAIT_MS)
        await bruno.locator(f'#queue-list li[data-id="{spam}"]').wait_for(
            state="detached", timeout=WAIT_MS
        )
        await bruno.locator("#detail-state", has_text="encerrada por Ana (spam)").wait_for(
            timeout=WAIT_MS
        )
        await bruno.locator("#reopen-message").wait_for(timeout=WAIT_MS)
        assert await listed(bruno) == [thanks, order]
        assert (await stored(client, spam))["close_reason"] == "spam"
        await shot(bruno, "33-closed-by-a-colleague")

        # Held by someone else: off, as the answer buttons are; `x` asks nothing.
        response = await client.post(
            f"{API}/operator/messages/{order}/take", json={"operator_name": "Bruno"}
        )
        assert response.status == 200
        held = ana.locator(f'#queue-list li[data-id="{order}"]')
        await held.locator(".badge.taken", has_text="com Bruno").wait_for(timeout=WAIT_MS)
        await held.click()
        await ana.locator("#taken-notice").wait_for(timeout=WAIT_MS)
        assert await close.is_disabled()
        await ana.locator("#customer-message").click()
        await ana.keyboard.press("x")
        assert await choice.count() == 0
        await shot(ana, "34-close-held-by-another")
        # Bruno holds it: his page lets him close it.
        await bruno.click(f'#queue-list li[data-id="{order}"]')
        await bruno.locator("#detail-assigned", has_text="você").wait_for(timeout=WAIT_MS)
        assert await bruno.locator("#close-without-reply").is_enabled()

        # On a phone's width: the reasons wrap, nothing scrolls sideways.
        phone = await new_page(PHONE)
        await sign_in(phone, client, ana_key, "Ana")
        await phone.click(f'#queue-list li[data-id="{thanks}"]')
        await phone.click("#close-without-reply")
        await phone.locator("#close-choice").wait_for(timeout=WAIT_MS)
        await no_sideways_scroll(phone)
        await shot(phone, "35-close-choice-phone")
        await phone.get_by_role("button", name="Mensagem repetida", exact=True).click()
        await phone.locator(
            "#detail-state", has_text="encerrada por Ana (mensagem repetida)"
        ).wait_for(timeout=WAIT_MS)
        await no_sideways_scroll(phone)
        assert (await stored(client, thanks))["close_reason"] == "duplicate"
        await ana.locator(f'#queue-list li[data-id="{thanks}"]').wait_for(
            state="detached", timeout=WAIT_MS
        )
        assert await queued(client) == [order]

        # Nothing ever went to a customer.
        assert fake_telegram.sent == []
        assert await deliveries(client) == []


async def test_closing_a_message_taken_meanwhile_is_refused_and_said(live_client, channel_settings):
    client = live_client
    await send_updates(client)
    key = await issue_key(channel_settings.async_database_url or "", "operator", name="ana")

    # Chromium logs the refused request and the feed this test cuts; those are the point.
    async with browser(expected=("status of 409", "ERR_FAILED")) as new_page:
        page = await new_page(DESKTOP)
        # No live feed for this page: it cannot learn that Bruno took it before it acts.
        await page.route("**/api/v1/operator/events", lambda route: route.abort())
        await page.goto(str(client.make_url("/console")))
        await page.fill("#signin-key", key)
        await page.fill("#signin-name", "Ana")
        await page.click("#signin-submit")
        message_id = await arrived(page, ORDER)
        await page.click(f'#queue-list li[data-id="{message_id}"]')
        await page.locator("#close-without-reply:not([disabled])").wait_for(timeout=WAIT_MS)

        response = await client.post(
            f"{API}/operator/messages/{message_id}/take", json={"operator_name": "Bruno"}
        )
        assert response.status == 200
        await page.click("#close-without-reply")
        await page.get_by_role("button", name="Spam", exact=True).click()
        error = page.locator("#action-status.error")
        await error.wait_for(timeout=WAIT_MS)
        assert "Não foi possível" in await error.inner_text()
        # The page caught up: Bruno holds it, and the button is off.
        await page.locator("#taken-notice", has_text="Bruno").wait_for(timeout=WAIT_MS)
        assert await page.locator("#close-without-reply").is_disabled()
        await shot(page, "36-close-refused")

    refused = await stored(client, message_id)
    assert refused["closed_at"] is None
    assert refused["assigned_to"] == "Bruno"


async def test_closing_speaks_english_by_a_setting(english, aiohttp_client):
    from gateway.app import create_app

    db = english.async_database_url or ""
    client = await aiohttp_client(create_app(english), headers=bearer(await issue_key(db)))
    created = await wait_until_triaged(client, (await post(client, "Thanks, bye!", "geral"))["id"])
    key = await issue_key(db, "operator", name="sam")
    async with browser() as new_page:
        page = await new_page(DESKTOP)
        await sign_in(page, client, key, "Sam")
        await page.click(f'#queue-list li[data-id="{created["id"]}"]')
        await page.get_by_role("button", name="Close without reply", exact=True).click()
        choice = page.locator("#close-choice")
        await choice.wait_for(timeout=WAIT_MS)
        assert await choice.locator("button").all_inner_texts() == [
            "No reply needed",
            "Spam",
            "Repeated message",
            "Cancel",
        ]
        assert "Nothing is sent to the customer" in await choice.inner_text()
        await shot(page, "37-close-english")
        await page.get_by_role("button", name="Repeated message", exact=True).click()
        await page.locator("#detail-state", has_text="closed by Sam (repeated message)").wait_for(
            timeout=WAIT_MS
        )
        assert "Closed: repeated message" in await page.inner_text("#action-status")
        await page.locator("#queue-empty").wait_for(timeout=WAIT_MS)
        await page.keyboard.press("c")
        await page.locator(
            ".closed-turn", has_text="closed without reply · repeated message · by Sam"
        ).wait_for(timeout=WAIT_MS)
        await page.click("#back-to-message")
        await page.get_by_role("button", name="Reopen", exact=True).click()
        await page.locator(f'#queue-list li[data-id="{created["id"]}"]').wait_for(timeout=WAIT_MS)
        assert "Reopened" in await page.inner_text("#action-status")
        await page.locator("#customer-message").click()
        await page.keyboard.press("?")
        assert "close without reply" in await page.inner_text("#help")
