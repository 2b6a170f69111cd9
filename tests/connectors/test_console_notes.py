"""Notas internas in the console, in a real browser (Debian's Chromium driven by Playwright):
operators on different shifts leave each other notes about a Telegram customer that the
customer never sees. Ana adds one (the count beside the customer's name says so) and keeps
typing the next while a live event redraws the page; Bruno, opening the customer's message,
reads hers without a way to delete them, adds his own by keyboard (`o`, Ctrl+Enter) and
deletes it after confirming; a note over 2000 characters and a refused deletion are said in
the page. On a phone's width and in English. Screenshots go to tests/artifacts/console/.
"""

from __future__ import annotations

import json

from tests.conftest import bearer, issue_key
from tests.connectors.conftest import deliveries, post_telegram, telegram_text_update
from tests.connectors.test_console_browser import WAIT_MS, browser, shot
from tests.connectors.test_console_work import DESKTOP, PHONE, no_sideways_scroll, sign_in
from tests.routing_helpers import API, post, wait_until_triaged

ASKED = "Oi, já paguei o boleto, vocês receberam?"
RECEIPT = "Já mandou o comprovante duas vezes: conferir com o financeiro antes de pedir de novo."
CALL = "Cliente pediu para ligar depois das 18h."
BRUNO_NOTE = "Financeiro confirmou o pagamento às 14h."
LONG_LINK = "Comprovante: https://example.com/" + "comprovante-" * 12 + "pdf"
# Chromium logs the refused requests themselves; they are the point of those steps.
REFUSED = ("status of 422", "status of 409")


async def stored_notes(client, client_id: str) -> list[dict]:
    response = await client.get(f"{API}/operator/clients/{client_id}/notes")
    assert response.status == 200
    return (await response.json())["items"]


async def listed(page) -> list[str]:
    """The notes' texts the page lists, top to bottom."""
    return await page.locator("#notes-list li.note .note-text").all_inner_texts()


async def focused(page) -> str:
    return await page.evaluate("document.activeElement.id")


async def open_message(page, message_id: int) -> None:
    await page.click(f'#queue-list li[data-id="{message_id}"]')
    await page.locator("#notes-list:not([aria-busy])").wait_for(timeout=WAIT_MS)


async def maria_asks(client, settings) -> tuple[str, str]:
    """Maria's question arrives over Telegram; returns Ana's and Bruno's operator keys."""
    update = telegram_text_update(1, 10, ASKED, user_id=4242, name="Maria")
    assert (await post_telegram(client, update)).status == 200
    db = settings.async_database_url or ""
    return await issue_key(db, "operator", name="ana"), await issue_key(
        db, "operator", name="bruno"
    )


async def test_operators_leave_each_other_notes_about_a_customer(
    live_client, channel_settings, fake_telegram
):
    client = live_client
    ana_key, bruno_key = await maria_asks(client, channel_settings)

    async with browser(expected=REFUSED) as new_page:
        ana = await new_page(DESKTOP)
        await sign_in(ana, client, ana_key, "Ana")
        item = ana.locator("#queue-list li", has_text=ASKED)
        await item.locator(".badge.pending").wait_for(timeout=WAIT_MS)  # routed, no answer
        message_id = int(await item.get_attribute("data-id") or 0)
        message = await (await client.get(f"{API}/messages/{message_id}")).json()
        client_id = message["client_id"]

        # Under the customer's history, before the whole conversation: none yet.
        await open_message(ana, message_id)
        section = ana.locator("#notes")
        assert await section.locator("#notes-title").text_content() == "Notas internas"
        assert "só os operadores veem" in await section.inner_text()
        assert await ana.inner_text("#notes-empty") == "Nenhuma nota sobre este cliente."
        assert await ana.locator("#notes-count").is_hidden()
        around = await ana.evaluate(
            "(notes => [notes.previousElementSibling.textContent, notes.nextElementSibling.id,"
            " notes.nextElementSibling.nextElementSibling.id])"
            "(document.getElementById('notes'))"
        )
        # Then blocking the customer (blocking.js), then the whole conversation.
        assert around == ["Primeiro contato deste cliente.", "blocking", "open-conversation"]

        # Empty: said by the box, nothing is sent.
        await ana.get_by_role("button", name="Adicionar nota", exact=True).click()
        assert await ana.inner_text("#note-error") == "Escreva a nota antes de adicionar."
        assert await stored_notes(client, client_id) == []

        # Ana adds one: listed, counted beside the customer's name, kept by the API as hers.
        await ana.click("#note-text")
        await ana.keyboard.type(RECEIPT)
        assert await ana.locator("#note-error").is_hidden()
        await ana.get_by_role("button", name="Adicionar nota", exact=True).click()
        await ana.locator("#notes-list li.note", has_text=RECEIPT).wait_for(timeout=WAIT_MS)
        assert await ana.inner_text("#notes-count") == "1 nota"
        assert await ana.inner_text("#detail-customer") == "Maria"
        assert "Nota adicionada" in await ana.inner_text("#notes-status")
        assert await ana.input_value("#note-text") == ""
        mine = ana.locator("#notes-list li.note", has_text=RECEIPT)
        assert "Ana" in await mine.locator(".note-by").inner_text()
        assert await mine.locator(".note-delete").count() == 1
        [note] = await stored_notes(client, client_id)
        assert (note["author"], note["text"], note["client_id"]) == ("Ana", RECEIPT, client_id)

        # What she types next survives the live events that redraw the detail: a colleague
        # takes the message and gives it back meanwhile.
        await ana.click("#note-text")
        await ana.keyboard.type("Cliente pediu para ligar")
        response = await client.post(
            f"{API}/operator/messages/{message_id}/take", json={"operator_name": "Carla"}
        )
        assert response.status == 200
        await ana.locator("#taken-notice", has_text="Carla").wait_for(timeout=WAIT_MS)
        assert await ana.input_value("#note-text") == "Cliente pediu para ligar"
        assert await focused(ana) == "note-text"
        await ana.keyboard.type(" depois das 18h.")
        response = await client.post(
            f"{API}/operator/messages/{message_id}/release", json={"operator_name": "Carla"}
        )
        assert response.status == 200
        await ana.locator("#taken-notice").wait_for(state="detached", timeout=WAIT_MS)
        assert await ana.input_value("#note-text") == CALL
        assert await focused(ana) == "note-text"
        # Ctrl+Enter adds it; the newest is on top.
        await ana.keyboard.press("Control+Enter")
        await ana.locator("#notes-count", has_text="2 notas").wait_for(timeout=WAIT_MS)
        assert await listed(ana) == [CALL, RECEIPT]
        assert await ana.input_value("#note-text") == ""
        await shot(ana, "38-notes-added")

        # Bruno, on the next shift, opens the customer's message: Ana's notes, not his to delete.
        bruno = await new_page(DESKTOP)
        await sign_in(bruno, client, bruno_key, "Bruno")
        await open_message(bruno, message_id)
        assert await listed(bruno) == [CALL, RECEIPT]
        assert await bruno.inner_text("#notes-count") == "2 notas"
        assert await bruno.locator("#notes-list .note-delete").count() == 0
        assert "Ana" in await bruno.locator("#notes-list .note-by").first.inner_text()

        # `o` goes to the box (a letter like any other while typing); Ctrl+Enter adds.
        await bruno.click("#answer")
        await bruno.keyboard.type("o")
        assert await bruno.input_value("#answer") == "o"
        assert await focused(bruno) == "answer"
        await bruno.fill("#answer", "")
        await bruno.locator("#customer-message").click()
        await bruno.keyboard.press("o")
        assert await focused(bruno) == "note-text"
        await bruno.keyboard.type(BRUNO_NOTE)
        await bruno.keyboard.press("Control+Enter")
        await bruno.locator("#notes-count", has_text="3 notas").wait_for(timeout=WAIT_MS)
        assert await listed(bruno) == [BRUNO_NOTE, CALL, RECEIPT]
        his = bruno.locator("#notes-list li.note", has_text=BRUNO_NOTE)
        assert await his.locator(".note-delete").count() == 1
        assert await bruno.locator("#notes-list .note-delete").count() == 1
        assert (await stored_notes(client, client_id))[0]["author"] == "Bruno"
        await shot(bruno, "39-notes-another-operator")

        # Deleting asks first, in the note's row; Cancelar keeps it, Apagar deletes it.
        await his.locator(".note-delete").click()
        confirm = his.locator(".note-confirm")
        await confirm.wait_for(timeout=WAIT_MS)
        assert "Apagar esta nota para todos os operadores?" in await confirm.inner_text()
        await shot(bruno, "40-note-delete-confirm")
        await confirm.get_by_role("button", name="Cancelar", exact=True).click()
        await confirm.wait_for(state="detached", timeout=WAIT_MS)
        assert len(await stored_notes(client, client_id)) == 3
        await his.locator(".note-delete").click()
        await confirm.get_by_role("button", name="Apagar", exact=True).click()
        await his.wait_for(state="detached", timeout=WAIT_MS)
        assert await bruno.inner_text("#notes-status") == "Nota apagada."
        assert await bruno.inner_text("#notes-count") == "2 notas"
        assert [n["author"] for n in await stored_notes(client, client_id)] == ["Ana", "Ana"]

        # Over 2000 characters: the API's 422 is said by the box, and the text is kept.
        too_long = "a" * 2001
        await bruno.fill("#note-text", too_long)
        await bruno.get_by_role("button", name="Adicionar nota", exact=True).click()
        error = bruno.locator("#note-error")
        await error.wait_for(timeout=WAIT_MS)
        assert "passa de 2000 caracteres" in await error.inner_text()
        assert await bruno.get_attribute("#note-text", "aria-invalid") == "true"
        assert await bruno.input_value("#note-text") == too_long
        assert len(await stored_notes(client, client_id)) == 2
        await shot(bruno, "41-note-too-long")
        await bruno.fill("#note-text", "")
        await error.wait_for(state="hidden", timeout=WAIT_MS)

        # A deletion the API refuses (409): as if this page took Ana for its operator,
        # the gateway hears Bruno's name and says only the author or an admin may.
        async def as_bruno(route):
            await route.continue_(post_data=json.dumps({"operator_name": "Bruno"}))

        await ana.route("**/api/v1/operator/notes/*", as_bruno)
        first = ana.locator("#notes-list li.note", has_text=CALL)
        await first.locator(".note-delete").click()
        await first.get_by_role("button", name="Apagar", exact=True).click()
        refused = ana.locator("#notes-status.error")
        await refused.wait_for(timeout=WAIT_MS)
        assert "Só quem escreveu esta nota (ou um administrador)" in await refused.inner_text()
        await first.wait_for(timeout=WAIT_MS)  # still there
        assert len(await stored_notes(client, client_id)) == 2
        await ana.unroute("**/api/v1/operator/notes/*")

        # The key's list says it.
        await ana.locator("#customer-message").click()
        await ana.keyboard.press("?")
        assert "nota interna" in await ana.inner_text("#help")
        await ana.keyboard.press("?")

        # On a phone's width: nothing scrolls sideways, even for a long link.
        response = await client.post(
            f"{API}/operator/clients/{client_id}/notes",
            json={"text": LONG_LINK, "operator_name": "Ana"},
        )
        assert response.status == 201
        phone = await new_page(PHONE)
        await sign_in(phone, client, ana_key, "Ana")
        await open_message(phone, message_id)
        assert await listed(phone) == [LONG_LINK, CALL, RECEIPT]
        assert await phone.inner_text("#notes-count") == "3 notas"
        await phone.click("#note-text")
        await no_sideways_scroll(phone)
        await shot(phone, "42-notes-phone")

        # Nothing of this ever went to the customer.
        assert fake_telegram.sent == []
        assert await deliveries(client) == []


async def test_notes_speak_english_by_a_setting(english, aiohttp_client):
    from gateway.app import create_app

    db = english.async_database_url or ""
    client = await aiohttp_client(create_app(english), headers=bearer(await issue_key(db)))
    created = await wait_until_triaged(
        client, (await post(client, "Where is my order?", "geral"))["id"]
    )
    key = await issue_key(db, "operator", name="sam")
    async with browser() as new_page:
        page = await new_page(DESKTOP)
        await sign_in(page, client, key, "Sam")
        await open_message(page, created["id"])
        assert await page.locator("#notes-title").text_content() == "Internal notes"
        assert "only operators see them" in await page.inner_text("#notes")
        assert await page.inner_text("#notes-empty") == "No notes about this customer."
        await page.locator("#customer-message").click()
        await page.keyboard.press("o")
        await page.keyboard.type("Prefers e-mail to phone calls.")
        await page.get_by_role("button", name="Add note", exact=True).click()
        # A message sent through the API has no customer name: the count is by the channel.
        count = page.locator("#notes-count")
        await count.wait_for(timeout=WAIT_MS)
        assert await count.inner_text() == "1 note"
        assert await page.locator("#detail-customer").count() == 0
        assert "API" in await page.locator("dd", has=count).inner_text()
        assert "Note added" in await page.inner_text("#notes-status")
        note = page.locator("#notes-list li.note")
        assert "you (Sam)" in await note.locator(".note-by").inner_text()
        await note.get_by_role("button", name="Delete", exact=True).click()
        assert "Delete this note for every operator?" in await note.inner_text()
        await shot(page, "43-notes-english")
        await note.get_by_role("button", name="Delete", exact=True).click()
        await page.locator("#notes-empty").wait_for(timeout=WAIT_MS)
        assert await count.is_hidden()
        assert await page.inner_text("#notes-status") == "Note deleted."
        await page.keyboard.press("Escape")
        await page.locator("#customer-message").click()
        await page.keyboard.press("?")
        assert "write an internal note" in await page.inner_text("#help")


async def test_a_colleague_s_note_reaches_a_page_open_on_the_customer(
    live_client, channel_settings
):
    client = live_client
    ana_key, bruno_key = await maria_asks(client, channel_settings)

    async with browser() as new_page:
        ana, bruno = await new_page(DESKTOP), await new_page(DESKTOP)
        # Ana's page keeps time by a clock the test moves on: the notes are read again every
        # 15 seconds, which the test then does not wait for.
        await ana.clock.install()
        await sign_in(ana, client, ana_key, "Ana")
        await sign_in(bruno, client, bruno_key, "Bruno")
        item = ana.locator("#queue-list li", has_text=ASKED)
        await item.locator(".badge.pending").wait_for(timeout=WAIT_MS)
        message_id = int(await item.get_attribute("data-id") or 0)
        await open_message(ana, message_id)
        await open_message(bruno, message_id)
        assert await ana.inner_text("#notes-empty") == "Nenhuma nota sobre este cliente."

        # Bruno adds a note while both have the customer open: no message changes, so no
        # live event redraws Ana's detail; her page reads the notes again by itself.
        await bruno.click("#note-text")
        await bruno.keyboard.type(BRUNO_NOTE)
        await bruno.keyboard.press("Control+Enter")
        await bruno.locator("#notes-list li.note", has_text=BRUNO_NOTE).wait_for(timeout=WAIT_MS)
        # What Ana was typing meanwhile stays in her box, with the focus.
        await ana.click("#note-text")
        await ana.keyboard.type("Ligar amanhã")
        await ana.clock.fast_forward(16_000)
        await ana.locator("#notes-list li.note", has_text=BRUNO_NOTE).wait_for(timeout=WAIT_MS)
        assert await ana.inner_text("#notes-count") == "1 nota"
        assert await ana.input_value("#note-text") == "Ligar amanhã"
        assert await focused(ana) == "note-text"

        # He deletes it: gone from her page at the next reading.
        await bruno.locator("#notes-list .note-delete").click()
        await bruno.locator(".note-confirm").get_by_role("button", name="Apagar").click()
        await bruno.locator("#notes-empty").wait_for(timeout=WAIT_MS)
        await ana.clock.fast_forward(16_000)
        await ana.locator("#notes-empty").wait_for(timeout=WAIT_MS)
        assert await ana.locator("#notes-count").is_hidden()
