"""Saved replies ("respostas prontas") in the console, in a real browser (Debian's Chromium
driven by Playwright): an operator saves the answer they wrote as a reply, finds replies by
a filter that ignores accents and case, puts one in the answer box (at the cursor, or as
the whole answer, by mouse and by the `p` key) and sends it with Responder to a Telegram
customer; changes one, deletes one, and is told when a title is taken; on a phone's width
and in English. Screenshots go to tests/artifacts/console/.
"""

from __future__ import annotations

import asyncio

from tests.conftest import bearer, issue_key
from tests.connectors.conftest import post_telegram, telegram_text_update
from tests.connectors.test_console_browser import WAIT_MS, browser, shot
from tests.connectors.test_console_work import DESKTOP, PHONE, no_sideways_scroll, sign_in
from tests.routing_helpers import API, post, wait_until_triaged

HOURS = "Atendemos de segunda a sexta, das 8h às 18h."
LONGER_HOURS = "Atendemos de segunda a sábado, das 8h às 20h."
BOLETO = "A segunda via do boleto está em Minha conta > Pagamentos."
PASSWORD = "Use 'Esqueci minha senha' na tela de entrada e siga o e-mail."
ASKED = "Meu boleto venceu ontem, ainda posso pagar?"
# Chromium logs the refused request itself; that one error is the point of the 409.
REFUSED = ("status of 409",)


async def save_reply(client, title: str, text: str, sector: str | None) -> dict:
    body = {"title": title, "text": text, "sector": sector}
    response = await client.post(f"{API}/operator/replies", json=body)
    assert response.status == 201, await response.text()
    return await response.json()


async def stored_replies(client, sector: str) -> list[dict]:
    response = await client.get(f"{API}/operator/replies", params={"sector": sector})
    assert response.status == 200
    return (await response.json())["items"]


async def listed(page) -> list[str]:
    """The titles the open panel lists, once it has read them."""
    await page.locator("#replies-list:not([aria-busy])").wait_for(timeout=WAIT_MS)
    return await page.locator("#replies-list .replies-item-title").all_inner_texts()


async def focused(page) -> str:
    return await page.evaluate("document.activeElement.id")


async def test_an_operator_saves_finds_and_sends_saved_replies(
    live_client, channel_settings, fake_telegram
):
    client = live_client
    await save_reply(client, "Horário de atendimento", HOURS, None)
    await save_reply(client, "Trocar a senha", PASSWORD, "suporte")  # not financeiro's
    response = await post_telegram(client, telegram_text_update(1, 10, ASKED))
    assert response.status == 200
    key = await issue_key(channel_settings.async_database_url or "", "operator", name="ana")

    async with browser(expected=REFUSED) as new_page:
        page = await new_page(DESKTOP)
        await sign_in(page, client, key, "Ana")
        queued = page.locator("#queue-list li", has_text=ASKED)
        await queued.locator(".badge.pending").wait_for(timeout=WAIT_MS)  # triaged, no answer
        message_id = int(await queued.get_attribute("data-id") or 0)
        message = await (await client.get(f"{API}/messages/{message_id}")).json()
        assert message["sector"] == "financeiro"
        assert message["suggestion"] is None
        await queued.click()
        await page.locator("#customer-message", has_text=ASKED).wait_for(timeout=WAIT_MS)
        panel = page.locator("#replies-panel")
        assert await panel.is_hidden()

        # `p` is a letter like any other while typing.
        await page.click("#answer")
        await page.keyboard.type("p")
        assert await page.input_value("#answer") == "p"
        assert await panel.is_hidden()

        # The operator writes an answer, then keeps it as a saved reply of the sector.
        await page.fill("#answer", BOLETO)
        await page.click("#replies-button")
        await panel.wait_for(timeout=WAIT_MS)
        assert await focused(page) == "replies-filter"
        assert await listed(page) == ["Horário de atendimento"]  # financeiro's and everyone's
        assert "todos os setores" in await panel.locator(".replies-item").first.inner_text()
        await page.click("#replies-new")
        assert await focused(page) == "reply-title"
        assert await page.input_value("#reply-text") == BOLETO
        assert await page.input_value("#reply-sector") == "financeiro"
        await page.fill("#reply-title", "Segunda via do boleto")
        # The detail is redrawn on every live event: what the form holds, and the focus, stay.
        for action in ("take", "release"):
            response = await client.post(
                f"{API}/operator/messages/{message_id}/{action}", json={"operator_name": "Bruno"}
            )
            assert response.status == 200
            holder = "Bruno" if action == "take" else "ninguém"
            await page.locator("#detail-assigned", has_text=holder).wait_for(timeout=WAIT_MS)
        assert await page.input_value("#reply-title") == "Segunda via do boleto"
        assert await page.input_value("#reply-text") == BOLETO
        assert await focused(page) == "reply-title"
        assert await page.locator("#replies-new").is_hidden()  # one form at a time
        await page.click("#reply-save")
        await panel.locator(".replies-item.active", has_text="Segunda via do boleto").wait_for(
            timeout=WAIT_MS
        )
        assert await listed(page) == ["Horário de atendimento", "Segunda via do boleto"]
        saved = panel.locator(".replies-item", has_text="Segunda via do boleto")
        assert await saved.locator(".replies-sector").inner_text() == "financeiro"
        assert BOLETO in await saved.locator(".replies-preview").inner_text()
        assert "“Segunda via do boleto” salva" in await page.inner_text("#replies-status")
        [boleto] = [r for r in await stored_replies(client, "financeiro") if r["sector"]]
        assert (boleto["title"], boleto["text"], boleto["created_by"]) == (
            "Segunda via do boleto",
            BOLETO,
            "Ana",
        )
        await no_sideways_scroll(page)
        await shot(page, "25-saved-replies")

        # The same title again for the sector, whatever its case: said by the title,
        # and nothing typed is lost.
        await page.click("#replies-new")
        await page.fill("#reply-title", "SEGUNDA via do Boleto")
        await page.fill("#reply-text", "Outro texto")
        await page.click("#reply-save")
        taken = page.locator("#reply-title-error")
        await taken.wait_for(timeout=WAIT_MS)
        assert await taken.inner_text() == "Já existe uma resposta pronta com esse título"
        assert await page.input_value("#reply-title") == "SEGUNDA via do Boleto"
        assert await page.input_value("#reply-text") == "Outro texto"
        await shot(page, "26-saved-reply-title-taken")
        await page.click("#reply-cancel")
        assert len(await stored_replies(client, "financeiro")) == 2

        # The filter reads titles and texts, accents and case aside.
        await page.fill("#replies-filter", "horario")
        assert await listed(page) == ["Horário de atendimento"]
        await page.fill("#replies-filter", "PAGAMENTOS conta")
        assert await listed(page) == ["Segunda via do boleto"]
        await page.fill("#replies-filter", "nada disso")
        assert await listed(page) == []
        assert "Nenhuma resposta pronta com “nada disso”" in await panel.inner_text()
        await page.keyboard.press("Escape")
        await panel.wait_for(state="hidden", timeout=WAIT_MS)
        assert await focused(page) == "replies-button"

        # On a phone's width: the list and the form, nothing scrolls sideways.
        phone = await new_page(PHONE)
        await sign_in(phone, client, key, "Ana")
        await phone.click(f'#queue-list li[data-id="{message_id}"]')
        await phone.click("#replies-button")
        assert await listed(phone) == ["Horário de atendimento", "Segunda via do boleto"]
        await no_sideways_scroll(phone)
        await shot(phone, "27-saved-replies-phone")
        await phone.locator(".replies-item .replies-edit").first.click()
        await phone.locator("#replies-form").wait_for(timeout=WAIT_MS)
        await no_sideways_scroll(phone)

        # A click puts one at the cursor, spaced from the words around it.
        await page.fill("#answer", "Olá, Maria! Até logo.")
        await page.evaluate("document.getElementById('answer').setSelectionRange(11, 11)")
        await page.click("#replies-button")
        await listed(page)
        await panel.locator(".replies-item", has_text="Horário").locator(".replies-use").click()
        await panel.wait_for(state="hidden", timeout=WAIT_MS)
        assert await page.input_value("#answer") == f"Olá, Maria! {HOURS} Até logo."
        assert await focused(page) == "answer"
        assert "“Horário de atendimento” no campo" in await page.inner_text("#action-status")

        # By keyboard, into an empty box: `p`, the arrows, Enter; then Responder sends it.
        await page.fill("#answer", "")
        await page.locator("#customer-message").click()
        await page.keyboard.press("p")
        await panel.wait_for(timeout=WAIT_MS)
        assert await focused(page) == "replies-filter"
        assert await listed(page) == ["Horário de atendimento", "Segunda via do boleto"]
        for key_name in ("ArrowDown", "ArrowDown", "ArrowUp", "ArrowDown"):
            await page.keyboard.press(key_name)
        active = panel.locator(".replies-item.active .replies-item-title")
        assert await active.inner_text() == "Segunda via do boleto"
        assert await page.locator(f'#queue-list li[data-id="{message_id}"].selected').count() == 1
        await page.keyboard.press("Enter")
        await panel.wait_for(state="hidden", timeout=WAIT_MS)
        assert await page.input_value("#answer") == BOLETO
        assert await focused(page) == "answer"
        await page.get_by_role("button", name="Responder", exact=True).click()
        deadline = asyncio.get_running_loop().time() + 30
        while not any(sent["text"] == BOLETO for sent in fake_telegram.sent):
            assert asyncio.get_running_loop().time() < deadline, "Telegram got no reply"
            await asyncio.sleep(0.1)
        assert fake_telegram.sent[-1]["chat_id"] == "4242"
        await page.locator("#detail-state", has_text="aprovada por Ana").wait_for(timeout=WAIT_MS)

        # Changed: the same form, filled with the reply; the list shows the new text.
        await page.click("#replies-button")
        assert await listed(page) == ["Horário de atendimento", "Segunda via do boleto"]
        hours = panel.locator(".replies-item", has_text="Horário de atendimento")
        await hours.locator(".replies-edit").click()
        assert await page.input_value("#reply-title") == "Horário de atendimento"
        assert await page.input_value("#reply-text") == HOURS
        assert await page.input_value("#reply-sector") == ""  # todos os setores
        await page.fill("#reply-text", LONGER_HOURS)
        await page.click("#reply-save")
        await hours.locator(".replies-preview", has_text=LONGER_HOURS).wait_for(timeout=WAIT_MS)
        [changed] = [r for r in await stored_replies(client, "financeiro") if not r["sector"]]
        assert (changed["text"], changed["sector"], changed["updated_by"]) == (
            LONGER_HOURS,
            None,
            "Ana",
        )

        # Deleted, once confirmed in its row.
        await hours.locator(".replies-delete").click()
        confirm = hours.locator(".replies-confirm")
        assert "Apagar “Horário de atendimento”" in await confirm.inner_text()
        await confirm.locator(".replies-confirm-no").click()
        assert await listed(page) == ["Horário de atendimento", "Segunda via do boleto"]
        await hours.locator(".replies-delete").click()
        await hours.locator(".replies-confirm-yes").click()
        await hours.wait_for(state="detached", timeout=WAIT_MS)
        assert await listed(page) == ["Segunda via do boleto"]
        assert "apagada" in await page.inner_text("#replies-status")
        assert [r["title"] for r in await stored_replies(client, "financeiro")] == [
            "Segunda via do boleto"
        ]
        # The other sector's reply was never offered, and is still there.
        assert [r["title"] for r in await stored_replies(client, "suporte")] == ["Trocar a senha"]


async def test_saved_replies_speak_english_by_a_setting(english, aiohttp_client):
    from gateway.app import create_app

    db = english.async_database_url or ""
    client = await aiohttp_client(create_app(english), headers=bearer(await issue_key(db)))
    await save_reply(client, "Opening hours", "We answer Monday to Friday, 8am to 6pm.", None)
    await save_reply(client, "Greeting", "Hello, {name}! {operator} here.", None)
    created = await wait_until_triaged(client, (await post(client, "Hello there", "geral"))["id"])
    key = await issue_key(db, "operator", name="sam")
    async with browser(expected=REFUSED) as new_page:
        page = await new_page(DESKTOP)
        await sign_in(page, client, key, "Sam")
        await page.click(f'#queue-list li[data-id="{created["id"]}"]')
        await page.get_by_role("button", name="Saved replies", exact=True).click()
        assert await listed(page) == ["Greeting", "Opening hours"]
        # A message sent over REST has no customer name: the greeting goes without it.
        await page.keyboard.press("Enter")
        assert await page.input_value("#answer") == "Hello! Sam here."
        await page.click("#replies-button")
        await listed(page)
        assert "all sectors" in await page.inner_text("#replies-list")
        await page.get_by_role("button", name="Save as a saved reply", exact=True).click()
        await page.fill("#reply-title", "opening HOURS")
        await page.fill("#reply-text", "Another text")
        await page.select_option("#reply-sector", "")  # every sector, where the title is
        await page.click("#reply-save")
        taken = page.locator("#reply-title-error")
        await taken.wait_for(timeout=WAIT_MS)
        assert await taken.inner_text() == "A saved reply with that title already exists"
        await shot(page, "28-saved-replies-english")
        await page.locator("#customer-message").click()
        await page.keyboard.press("?")
        assert "saved replies" in await page.inner_text("#help")


async def test_a_saved_reply_greets_the_customer_by_the_name_their_channel_shows(
    live_client, channel_settings
):
    client = live_client
    await save_reply(client, "Saudação", "Olá, {nome}! Aqui é {operador}, como posso ajudar?", None)
    update = telegram_text_update(1, 10, "oi, preciso de ajuda", name="Maria Clara")
    assert (await post_telegram(client, update)).status == 200
    key = await issue_key(channel_settings.async_database_url or "", "operator", name="ana")

    async with browser() as new_page:
        page = await new_page(DESKTOP)
        await sign_in(page, client, key, "Ana")
        queued = page.locator("#queue-list li", has_text="preciso de ajuda")
        await queued.locator(".customer-name", has_text="Maria Clara").wait_for(timeout=WAIT_MS)
        await queued.click()
        assert await page.inner_text("#detail-customer") == "Maria Clara"
        await page.locator("#customer-message").click()
        await page.keyboard.press("p")
        assert await listed(page) == ["Saudação"]
        await page.keyboard.press("Enter")
        assert await page.input_value("#answer") == "Olá, Maria! Aqui é Ana, como posso ajudar?"
        await shot(page, "29-saved-reply-with-customer-name")
