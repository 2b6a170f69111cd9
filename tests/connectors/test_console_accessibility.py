"""The console's pages checked by axe-core (Deque's rules, run in Debian's Chromium) in the
states an operator works in: signing in, the queue with a suggestion open, the keyboard's
help, saved replies, a customer's conversation, search results, closing without an answer,
blocking, a note and the analytics page, in a light and a dark system theme. And the queue
kept usable from the keyboard while messages arrive.

axe-core comes with axe-playwright-python (its wheel carries axe.min.js; nothing is
downloaded). Its rules are WCAG 2.0-2.2 A and AA and its best practices.
"""

from __future__ import annotations

import pytest
from axe_playwright_python.async_playwright import Axe

from config.settings import ConsoleLanguage
from tests.analytics_helpers import seed
from tests.conftest import issue_key
from tests.connectors.conftest import post_telegram, start_app, telegram_text_update
from tests.connectors.test_console_browser import ANSWER, QUESTION, WAIT_MS, browser, shot
from tests.connectors.test_console_work import PHONE, sign_in
from tests.routing_helpers import import_kb

RULES = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
VIEWPORT = {"width": 1280, "height": 860}


async def assert_accessible(page, state: str) -> None:
    """No axe violation on the page as it stands; the failure lists each rule and where."""
    results = await Axe().run(page, options={"runOnly": {"type": "tag", "values": RULES}})
    found = [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + "; ".join(f"{n['target']} {n.get('failureSummary', '')}" for n in v["nodes"][:4])
        for v in results.response["violations"]
    ]
    assert not found, f"{state}: " + "\n".join(found)
    # The run looked at the page: a blank or unloaded page would pass with nothing checked.
    assert len(results.response["passes"]) > 10, state


async def assert_scheme(page, scheme: str) -> None:
    """The page follows the system's theme: a dark ground in a dark one, a light in a light."""
    rgb = await page.evaluate("getComputedStyle(document.documentElement).backgroundColor")
    channels = [int(part) for part in rgb[rgb.index("(") + 1 : rgb.index(")")].split(",")[:3]]
    assert (sum(channels) < 3 * 80) == (scheme == "dark"), (scheme, rgb)


@pytest.mark.parametrize("scheme", ["light", "dark"])
async def test_the_console_passes_axe_in_each_state(
    scheme, live_client, channel_settings, fake_telegram
):
    await import_kb(live_client, [{"question": QUESTION, "answer": ANSWER, "sector": "vendas"}])
    key = await issue_key(channel_settings.async_database_url or "", "operator", name="ana")

    async with browser() as new_page:
        page = await new_page(VIEWPORT, color_scheme=scheme)
        await page.goto(str(live_client.make_url("/console")))
        await page.locator("#signin-key").wait_for(timeout=WAIT_MS)
        await assert_accessible(page, "sign-in")
        await sign_in(page, live_client, key, "Ana")
        await assert_scheme(page, scheme)
        await assert_accessible(page, "empty queue")

        await post_telegram(live_client, telegram_text_update(1, 10, "Qual o prazo pro Nordeste?"))
        item = page.locator("#queue-list li", has_text="Nordeste")
        await item.locator(".badge.ai").wait_for(timeout=WAIT_MS)
        await item.click()
        await page.locator(".sources li.source").first.wait_for(timeout=WAIT_MS)
        await shot(page, f"{scheme}-suggestion")
        await assert_accessible(page, "a suggestion open")

        await page.keyboard.press("?")
        await page.locator("#help").wait_for(timeout=WAIT_MS)
        await assert_accessible(page, "keyboard help")
        await page.keyboard.press("Escape")

        await page.keyboard.press("p")
        await page.locator("#replies-panel").wait_for(timeout=WAIT_MS)
        await assert_accessible(page, "saved replies")
        await page.keyboard.press("Escape")

        await page.keyboard.press("c")
        await page.locator(".thread").wait_for(timeout=WAIT_MS)
        await assert_accessible(page, "the customer's conversation")

        await page.fill("#search-input", "prazo de entrega")
        await page.press("#search-input", "Enter")
        await page.locator(".results li").first.wait_for(timeout=WAIT_MS)
        found = "mensagens parecidas com “prazo de entrega”."
        await page.locator("#announce", has_text=found).wait_for(state="attached", timeout=WAIT_MS)
        await assert_accessible(page, "search results")

        # Back on the message: the ways out of it that ask first, and a note written.
        await item.click()
        await page.locator(".sources li.source").first.wait_for(timeout=WAIT_MS)
        await page.keyboard.press("x")
        await page.locator("#close-choice").wait_for(timeout=WAIT_MS)
        await assert_accessible(page, "closing without an answer")
        await page.keyboard.press("Escape")
        await page.locator("#close-choice").wait_for(state="detached", timeout=WAIT_MS)
        await page.get_by_role("button", name="Bloquear cliente", exact=True).click()
        await page.locator(".blocking.asking").wait_for(timeout=WAIT_MS)
        await page.keyboard.press("o")
        await page.keyboard.type("Cliente prefere contato à tarde.")
        await page.keyboard.press("Control+Enter")
        await page.locator(".note", has_text="à tarde").wait_for(timeout=WAIT_MS)
        assert await page.locator(".blocking.asking").is_visible()
        await assert_accessible(page, "a note written, blocking asked")

        # An answer waiting to go, with its Desfazer in the bar (a wait longer than the
        # check, chosen in the keys' help), then taken back.
        await page.locator("#customer-message").click()  # out of the note's box
        await page.keyboard.press("?")
        await page.select_option("#undo-seconds", "30")
        await page.keyboard.press("Escape")
        await page.keyboard.press("a")
        await page.locator("#sending-bar .sending-line").wait_for(timeout=WAIT_MS)
        await assert_accessible(page, "an answer waiting to go")
        await page.keyboard.press("z")
        await page.locator("#sending-bar").wait_for(state="hidden", timeout=WAIT_MS)


@pytest.mark.parametrize("scheme", ["light", "dark"])
async def test_the_analytics_page_passes_axe(scheme, live_client, channel_settings):
    db = channel_settings.async_database_url or ""
    await seed(db)
    key = await issue_key(db, "operator", name="gerente")

    async with browser() as new_page:
        page = await new_page(VIEWPORT, color_scheme=scheme)
        await page.goto(str(live_client.make_url("/console/analytics")))
        await page.locator("#signin-key").wait_for(timeout=WAIT_MS)
        await assert_accessible(page, "analytics sign-in")
        await page.fill("#signin-key", key)
        await page.click("#signin-submit")
        await page.locator("#report[data-ready]").wait_for(timeout=WAIT_MS)
        assert await page.inner_text("#stat-messages") not in ("", "–")
        await assert_scheme(page, scheme)
        await shot(page, f"{scheme}-analytics")
        await assert_accessible(page, "analytics with a history")


async def test_the_queue_keeps_the_keyboard_in_place_as_messages_arrive(
    live_client, channel_settings, fake_telegram
):
    key = await issue_key(channel_settings.async_database_url or "", "operator", name="ana")

    async with browser() as new_page:
        page = await new_page(VIEWPORT)
        await sign_in(page, live_client, key, "Ana")
        questions = ("Primeira dúvida sobre boleto", "Segunda dúvida sobre frete")
        for update, text in enumerate(questions, start=1):
            await post_telegram(live_client, telegram_text_update(update, 10 + update, text))
        first = page.locator("#queue-list li", has_text="Primeira")
        second = page.locator("#queue-list li", has_text="Segunda")
        await second.wait_for(timeout=WAIT_MS)
        first_id = await first.get_attribute("data-id")
        second_id = await second.get_attribute("data-id")

        # Space opens the focused item, as a button would, and marks it as the current one.
        await first.focus()
        await page.keyboard.press(" ")
        await page.locator("#detail", has_text="Primeira").wait_for(timeout=WAIT_MS)
        assert await first.get_attribute("aria-current") == "true"
        assert await second.get_attribute("aria-current") is None
        # The detail is not a live region (it is redrawn on every update of the message):
        # what opened is said once, through the page's polite announcer.
        assert await page.locator("#detail").get_attribute("aria-live") is None
        opened = f"Mensagem #{first_id} aberta: Primeira dúvida sobre boleto"
        await page.locator("#announce", has_text=opened).wait_for(state="attached", timeout=WAIT_MS)

        # A message arrives and the queue is drawn again: the keyboard stays where it was.
        await post_telegram(live_client, telegram_text_update(3, 13, "Terceira dúvida, troca"))
        await page.locator("#queue-list li", has_text="Terceira").wait_for(timeout=WAIT_MS)
        focused = "document.activeElement.dataset.id || document.activeElement.tagName"
        assert await page.evaluate(focused) == first_id
        # A screen reader is told of it: the highlight of a new item is only seen. (Told
        # with the event that it arrived: a queue read for another event may list it first.)
        said = page.locator("#announce[aria-live='polite']")
        arrived = "Nova mensagem na fila (3 esperando)."
        await said.filter(has_text=arrived).wait_for(state="attached", timeout=WAIT_MS)
        assert await said.inner_text() == arrived

        # j moves the selection, and the focus with it when the focus is in the queue.
        await page.keyboard.press("j")
        await page.locator("#detail", has_text="Segunda").wait_for(timeout=WAIT_MS)
        # The focus follows once the message's details are loaded.
        await page.locator(f'#queue-list li[data-id="{second_id}"]:focus').wait_for(timeout=WAIT_MS)

        # The keys' help is a modal dialog: Tab goes round its two controls (the wait before
        # an answer goes, and Fechar), and Esc gives the focus back.
        await page.keyboard.press("?")
        await page.locator("#help-close:focus").wait_for(timeout=WAIT_MS)
        ring = []
        for key in ("Tab", "Tab", "Shift+Tab"):
            await page.keyboard.press(key)
            ring.append(await page.evaluate("document.activeElement.id"))
        assert ring == ["undo-seconds", "help-close", "undo-seconds"]
        await page.keyboard.press("Escape")
        assert await page.locator("#help").is_hidden()
        assert await page.evaluate(focused) == second_id
        assert await second.get_attribute("aria-current") == "true"


async def test_the_console_and_analytics_on_a_phone_in_english_pass_axe(
    aiohttp_client, channel_settings, fake_telegram
):
    settings = channel_settings.model_copy(
        update={"run_worker": True, "console_language": ConsoleLanguage.EN}
    )
    client = await start_app(aiohttp_client, settings)
    await import_kb(client, [{"question": QUESTION, "answer": ANSWER, "sector": "vendas"}])
    key = await issue_key(settings.async_database_url or "", "operator", name="ana")

    async with browser() as new_page:
        page = await new_page(PHONE)
        await sign_in(page, client, key, "Ana")
        assert await page.evaluate("document.documentElement.lang") == "en"
        await post_telegram(client, telegram_text_update(1, 10, "Qual o prazo pro Nordeste?"))
        item = page.locator("#queue-list li", has_text="Nordeste")
        await item.locator(".badge.ai").wait_for(timeout=WAIT_MS)
        await item.click()
        await page.locator(".sources li.source").first.wait_for(timeout=WAIT_MS)
        await shot(page, "phone-en-suggestion")
        await assert_accessible(page, "a suggestion open, on a phone, in English")

        # The analytics page on the same phone: its wide tables scroll inside their cards,
        # reached by the keyboard, and the page itself never scrolls sideways.
        await seed(settings.async_database_url or "")
        await page.goto(str(client.make_url("/console/analytics")))
        await page.locator("#report[data-ready]").wait_for(timeout=WAIT_MS)
        await shot(page, "phone-en-analytics")
        wide = "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        assert await page.evaluate(wide) <= 0
        await assert_accessible(page, "analytics on a phone, in English")
