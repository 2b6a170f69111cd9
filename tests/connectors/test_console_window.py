"""WhatsApp's 24-hour window in the console, in a real browser (Debian's Chromium driven by
Playwright): three WhatsApp customers wrote 1 hour, 23 h 30 min and 25 hours ago, and one
Telegram customer. The queue marks the one whose window closes in half an hour and the one
whose window closed; each WhatsApp message's detail says until when an answer reaches the
customer, and warns atop when that is soon or past. Screenshots go to
tests/artifacts/console/.
"""

from __future__ import annotations

import re
import time

from tests.conftest import issue_key
from tests.connectors.conftest import (
    post_whatsapp,
    send_telegram_texts,
    whatsapp_body,
    whatsapp_text,
)
from tests.connectors.test_console_browser import WAIT_MS, browser, shot
from tests.connectors.test_console_close import arrived
from tests.connectors.test_console_work import DESKTOP, sign_in

RECENT = "Qual o prazo pra troca?"
SOON = "Meu pedido veio errado, e agora?"
LATE = "Ninguém me respondeu ontem"
TELEGRAM = "Vocês entregam em Recife?"


async def write_on_whatsapp(client, wamid: str, text: str, sender: str, name: str, ago: int):
    message = whatsapp_text(wamid, text, sender=sender) | {"timestamp": str(int(time.time()) - ago)}
    body = whatsapp_body([message], name=name, wa_id=sender)
    assert (await post_whatsapp(client, body)).status == 200


async def test_the_queue_and_the_detail_say_when_whatsapp_stops_taking_answers(
    live_client, channel_settings
):
    client = live_client
    await write_on_whatsapp(client, "wamid.R", RECENT, "5511911110000", "Rita", 3600)
    await write_on_whatsapp(client, "wamid.S", SOON, "5511922220000", "Sara", 23 * 3600 + 1800)
    await write_on_whatsapp(client, "wamid.L", LATE, "5511933330000", "Luís", 25 * 3600)
    await send_telegram_texts(client, [(TELEGRAM, 4242, "Maria")])
    key = await issue_key(channel_settings.async_database_url or "", "operator", name="ana")

    async with browser() as new_page:
        page = await new_page(DESKTOP)
        await sign_in(page, client, key, "Ana")
        recent, soon, late, telegram = [
            await arrived(page, text) for text in (RECENT, SOON, LATE, TELEGRAM)
        ]

        def badge(message_id: int):
            return page.locator(f'#queue-list li[data-id="{message_id}"] .badge.window')

        assert (await badge(soon).inner_text()).startswith("janela: ")
        assert await badge(soon).inner_text() in {"janela: 29 min", "janela: 30 min"}
        assert "24 h depois da última mensagem" in (await badge(soon).get_attribute("title") or "")
        assert await badge(late).inner_text() == "janela fechada"
        assert await badge(recent).count() == 0
        assert await badge(telegram).count() == 0
        await shot(page, "51-whatsapp-window-queue")

        # Closing soon: the detail warns, and says until when.
        await page.click(f'#queue-list li[data-id="{soon}"]')
        notice = page.locator("#window-notice")
        await notice.wait_for(timeout=WAIT_MS)
        assert "A janela de 24 h do WhatsApp fecha às" in await notice.inner_text()
        assert "aberta até" in await page.inner_text("#detail-window")

        # Closed: the detail says an answer now will fail; the operator may still write one.
        await page.click(f'#queue-list li[data-id="{late}"]')
        await page.locator("#window-notice.closed").wait_for(timeout=WAIT_MS)
        assert "falhará na entrega" in await notice.inner_text()
        assert (await page.inner_text("#detail-window")).startswith("fechada desde")
        assert await page.locator("#answer").is_enabled()
        await shot(page, "52-whatsapp-window-closed")

        # Plenty of time: the field only, no warning.
        await page.click(f'#queue-list li[data-id="{recent}"]')
        field = page.locator("#detail-window", has_text=re.compile(r"fecha em 2[23] h \d+ min"))
        await field.wait_for(timeout=WAIT_MS)
        assert await notice.count() == 0
        # Telegram has no such window.
        await page.click(f'#queue-list li[data-id="{telegram}"]')
        await page.locator("#customer-message", has_text=TELEGRAM).wait_for(timeout=WAIT_MS)
        assert await page.locator("#detail-window").count() == 0
        assert await notice.count() == 0
