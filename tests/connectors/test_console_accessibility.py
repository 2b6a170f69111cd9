"""The console's queue from the keyboard: Tab reaches its items, Enter or Space opens one,
and the item the keyboard is on keeps its focus as messages arrive and the queue is drawn
again.
"""

from __future__ import annotations

from tests.conftest import issue_key
from tests.connectors.conftest import post_telegram, telegram_text_update
from tests.connectors.test_console_browser import WAIT_MS, browser

VIEWPORT = {"width": 1280, "height": 860}


async def sign_in(page, url: str, key: str) -> None:
    await page.goto(url)
    await page.fill("#signin-key", key)
    await page.click("#signin-submit")


async def test_the_queue_keeps_the_keyboard_in_place_as_messages_arrive(
    live_client, channel_settings, fake_telegram
):
    key = await issue_key(channel_settings.async_database_url or "", "operator", name="ana")

    async with browser() as new_page:
        page = await new_page(VIEWPORT)
        await sign_in(page, str(live_client.make_url("/console")), key)
        await page.wait_for_selector("#live-status.on", timeout=WAIT_MS)
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

        # A message arrives and the queue is drawn again: the keyboard stays where it was.
        await post_telegram(live_client, telegram_text_update(3, 13, "Terceira dúvida, troca"))
        await page.locator("#queue-list li", has_text="Terceira").wait_for(timeout=WAIT_MS)
        focused = "document.activeElement.dataset.id || document.activeElement.tagName"
        assert await page.evaluate(focused) == first_id

        # j moves the selection, and the focus with it when the focus is in the queue.
        await page.keyboard.press("j")
        await page.locator("#detail", has_text="Segunda").wait_for(timeout=WAIT_MS)
        # The focus follows once the message's details are loaded.
        await page.locator(f'#queue-list li[data-id="{second_id}"]:focus').wait_for(timeout=WAIT_MS)
        assert await second.get_attribute("aria-current") == "true"
