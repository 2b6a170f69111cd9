"""An admin in the console, in a real browser (Debian's Chromium driven by Playwright): the
page asks the API who the key is (GET /operator/me), so an admin can give back a message an
operator left taken and delete a colleague's note, as the API already let them, while an
operator still cannot. The role is asked again after a reload. Screenshots go to
tests/artifacts/console/.
"""

from __future__ import annotations

from tests.conftest import bearer, issue_key
from tests.connectors.conftest import send_telegram_texts
from tests.connectors.test_console_browser import WAIT_MS, browser, shot
from tests.connectors.test_console_close import arrived, stored
from tests.connectors.test_console_notes import open_message, stored_notes
from tests.connectors.test_console_work import DESKTOP, sign_in
from tests.routing_helpers import API

ORDER = "Meu pedido 4471 veio com a peça errada"
NOTE = "Cliente pediu retorno por telefone depois das 18h"


async def test_an_admin_gives_back_a_colleagues_message_and_deletes_their_note(
    live_client, channel_settings
):
    client = live_client
    await send_telegram_texts(client, [(ORDER, 4242, "Maria")])
    db = channel_settings.async_database_url or ""
    ana_key = await issue_key(db, "operator", name="ana")
    bruno_key = await issue_key(db, "operator", name="bruno")
    carla_key = await issue_key(db, "admin", name="carla")

    async with browser() as new_page:
        ana, bruno, carla = [await new_page(DESKTOP) for _ in range(3)]
        await sign_in(ana, client, ana_key, "Ana")
        await sign_in(bruno, client, bruno_key, "Bruno")
        await sign_in(carla, client, carla_key, "Carla")
        assert await carla.inner_text("#operator-label") == "Operador: Carla (administrador)"
        assert await bruno.inner_text("#operator-label") == "Operador: Bruno"

        # Ana takes the message and leaves a note about the customer, then leaves for the day.
        message_id = await arrived(ana, ORDER)
        await open_message(ana, message_id)
        await ana.click("#take")
        await ana.locator("#detail-assigned", has_text="você").wait_for(timeout=WAIT_MS)
        client_id = (await stored(client, message_id))["client_id"]
        body = {"text": NOTE, "operator_name": "Ana"}
        response = await client.post(
            f"{API}/operator/clients/{client_id}/notes", json=body, headers=bearer(ana_key)
        )
        assert response.status == 201, await response.text()

        # Bruno, an operator, can neither give it back nor delete her note.
        await open_message(bruno, message_id)
        await bruno.locator("#notes-list li.note", has_text=NOTE).wait_for(timeout=WAIT_MS)
        assert await bruno.locator("#release").count() == 0
        assert await bruno.locator("#take").is_disabled()
        assert await bruno.locator("#notes-list .note-delete").count() == 0

        # Carla, an admin, can do both; a reload keeps what she may do.
        await open_message(carla, message_id)
        note = carla.locator("#notes-list li.note", has_text=NOTE)
        await note.wait_for(timeout=WAIT_MS)
        await carla.reload()
        await carla.locator("#detail-assigned", has_text="Ana").wait_for(timeout=WAIT_MS)
        await note.wait_for(timeout=WAIT_MS)
        assert "Como administrador, você pode devolvê-la à fila" in await carla.inner_text(
            "#taken-notice"
        )
        assert "Como administrador" not in await bruno.inner_text("#taken-notice")
        release = carla.locator("#release")
        assert await release.is_enabled()
        assert await release.get_attribute("title") == (
            "Devolver à fila a mensagem que Ana assumiu (você é administrador)"
        )
        await shot(carla, "49-admin-sees-a-taken-message")
        await release.click()
        await carla.locator("#detail-assigned", has_text="ninguém").wait_for(timeout=WAIT_MS)
        assert (await stored(client, message_id))["assigned_to"] is None
        # Everyone's page shows it free again, live; Bruno may take it now.
        await bruno.locator("#take:not([disabled])").wait_for(timeout=WAIT_MS)
        await ana.locator("#detail-assigned", has_text="ninguém").wait_for(timeout=WAIT_MS)

        await note.locator(".note-delete").click()
        await note.locator(".note-confirm").get_by_role("button", name="Apagar").click()
        await note.wait_for(state="detached", timeout=WAIT_MS)
        assert await stored_notes(client, client_id) == []
        await shot(carla, "50-admin-deleted-a-note")
