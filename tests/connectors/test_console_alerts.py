"""Desktop alerts of the console, in a real browser (Debian's Chromium driven by
Playwright): an operator turns them on, and a message that arrives while the tab is out
of view is announced, for the sector they watch, unless its sector already answered it by
itself; a click on the alert opens it.

The page's Notification is the browser's own, with the permission granted as the
operator would grant it; the test only records what the page asked it to show.
"""

from __future__ import annotations

import pytest
from aiohttp import web

from tests.conftest import issue_key, make_settings
from tests.connectors.test_console_browser import WAIT_MS, browser, shot
from tests.connectors.test_console_work import DESKTOP, sign_in
from tests.routing_helpers import API, CLIENT, import_kb, post, wait_until_triaged
from tests.test_auto_send import KB, sectors_file

# Records every alert the page shows, and lets the test put the tab out of view as another
# window in front of it would (headless Chromium keeps every tab visible).
RECORD = """
(() => {
  const Shown = window.Notification;
  window.__alerts = [];
  window.Notification = class extends Shown {
    constructor(title, options) {
      super(title, options);
      window.__alerts.push(this);
    }
  };
  window.__inView = (visible) => Object.defineProperty(document, "visibilityState", {
    value: visible ? "visible" : "hidden", configurable: true,
  });
})();
"""


async def _alerts(page) -> list[dict]:
    return await page.evaluate("window.__alerts.map((a) => ({title: a.title, body: a.body}))")


async def _signed_in(new_page, client, key: str):
    """A console page signed in as Ana, whose browser lets atende notify and records it."""
    page = await new_page(DESKTOP)
    await page.context.grant_permissions(["notifications"], origin=str(client.make_url("/")))
    await page.context.add_init_script(RECORD)
    await sign_in(page, client, key, "Ana")
    return page


async def _until_shown(page, count: int) -> None:
    # Polled from here: the console's policy forbids the eval wait_for_function needs.
    for _ in range(WAIT_MS // 100):
        if len(await _alerts(page)) >= count:
            return
        await page.wait_for_timeout(100)
    raise AssertionError(f"{count} alerts expected, {len(await _alerts(page))} shown")


async def _arrives(client, text: str, sector: str) -> int:
    created = await post(client, text, sector)
    await wait_until_triaged(client, created["id"])
    return created["id"]


async def test_a_message_arriving_out_of_view_is_announced_on_the_desktop(client, settings):
    key = await issue_key(settings.async_database_url or "", "operator", name="ana")
    async with browser() as new_page:
        page = await _signed_in(new_page, client, key)
        toggle = page.locator("#notify-toggle")
        assert await toggle.get_attribute("aria-pressed") == "false"
        assert (await toggle.get_attribute("title")).startswith("Avisos desligados")
        await toggle.click()
        assert await toggle.get_attribute("aria-pressed") == "true"
        assert (await toggle.get_attribute("title")).startswith("Avisos ligados")

        # Out of view: announced, with its sector and text.
        await page.evaluate("window.__inView(false)")
        boleto = await _arrives(client, "Meu boleto venceu ontem", "financeiro")
        await _until_shown(page, 1)
        assert await _alerts(page) == [
            {"title": "Nova mensagem · financeiro", "body": "Meu boleto venceu ontem"}
        ]

        # Watching one sector, only its messages are announced.
        await page.select_option("#sector-filter", "vendas")
        await page.locator("#queue-count", has_text="0").wait_for(timeout=WAIT_MS)
        await _arrives(client, "Quero a segunda via da fatura", "financeiro")
        await post(client, "Vocês entregam no sábado?", "vendas")
        await _until_shown(page, 2)
        await page.wait_for_timeout(1500)  # the feed's three next reads: nothing more
        assert [a["title"] for a in await _alerts(page)] == [
            "Nova mensagem · financeiro",
            "Nova mensagem · vendas",
        ]

        # In view, the queue itself shows it: no alert.
        await page.evaluate("window.__inView(true)")
        await page.select_option("#sector-filter", "")
        await _arrives(client, "Qual o prazo de entrega pro Nordeste?", "vendas")
        await page.wait_for_timeout(1500)
        assert len(await _alerts(page)) == 2

        # A click on an alert brings the tab and opens its message.
        await page.evaluate("window.__alerts[0].onclick()")
        await page.locator("#detail h2", has_text=f"#{boleto}").wait_for(timeout=WAIT_MS)
        await shot(page, "23-desktop-alerts")

        # The choice is this browser's: kept across a reload and a new sign-in.
        await page.click("#signout")
        await sign_in(page, client, key, "Ana")
        assert await toggle.get_attribute("aria-pressed") == "true"
        await toggle.click()
        assert await toggle.get_attribute("aria-pressed") == "false"


@pytest.fixture
def settings(db_url, tmp_path):
    # suporte sends a known answer by itself at similarity 0.97 or more.
    return make_settings(db_url, sectors_file=sectors_file(tmp_path, suporte=0.97))


async def test_a_message_its_sector_answered_by_itself_is_not_announced(
    client, settings, aiohttp_server
):
    async def answered(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    callback = web.Application()
    callback.router.add_post("/hook", answered)
    hook = str((await aiohttp_server(callback)).make_url("/hook"))
    await import_kb(client, KB)
    key = await issue_key(settings.async_database_url or "", "operator", name="ana")
    async with browser() as new_page:
        page = await _signed_in(new_page, client, key)
        await page.click("#notify-toggle")
        await page.evaluate("window.__inView(false)")

        asked = []
        for text in (KB[0]["question"], "Não consigo entrar na minha conta"):
            body = {"client_id": CLIENT, "sector": "suporte", "message": text}
            response = await client.post(f"{API}/messages/", json={**body, "callback_url": hook})
            asked.append(await wait_until_triaged(client, (await response.json())["id"]))
        sent, waiting = asked
        assert sent["suggestion"]["auto_send"] is True
        assert sent["answered_at"] is not None
        assert waiting["answered_at"] is None
        await _until_shown(page, 1)
        await page.wait_for_timeout(1500)  # the feed's three next reads: nothing more
        assert await _alerts(page) == [
            {"title": "Nova mensagem · suporte", "body": "Não consigo entrar na minha conta"}
        ]
