"""Blocking a customer in the console, in a real browser (Debian's Chromium driven by
Playwright): an operator blocks a Telegram account that sends spam, after confirming; its
waiting messages leave the queue, its next one arrives closed and never shows there, the
detail says who blocked it, and Desbloquear undoes it. A REST client has nothing to block.
Screenshots go to tests/artifacts/console/.
"""

from __future__ import annotations

import asyncio

from tests.conftest import issue_key
from tests.connectors.conftest import post_telegram, send_telegram_texts, telegram_text_update
from tests.connectors.test_console_browser import WAIT_MS, browser, shot
from tests.connectors.test_console_close import arrived, listed, queued, stored
from tests.connectors.test_console_work import DESKTOP, sign_in
from tests.routing_helpers import API, post

SPAM = ["GANHE DINHEIRO RÁPIDO clique no link", "ÚLTIMA CHANCE: promoção só hoje"]
MARIA = "Meu pedido não chegou ainda"


async def test_an_operator_blocks_a_spammer_and_unblocks_them(live_client, channel_settings):
    client = live_client
    await send_telegram_texts(
        client, [(SPAM[0], 7777, "Promo"), (SPAM[1], 7777, "Promo"), (MARIA, 4242, "Maria")]
    )
    key = await issue_key(channel_settings.async_database_url or "", "operator", name="ana")
    async with browser() as new_page:
        page = await new_page(DESKTOP)
        await sign_in(page, client, key, "Ana")
        first, second, maria = [await arrived(page, text) for text in (*SPAM, MARIA)]
        await page.click(f'#queue-list li[data-id="{second}"]')
        block = page.locator("#block-customer")
        await block.wait_for(timeout=WAIT_MS)

        # It asks first; Cancelar blocks nothing.
        await block.click()
        confirm = page.locator("#blocking.asking")
        await confirm.wait_for(timeout=WAIT_MS)
        assert (await confirm.inner_text()).startswith("Bloquear Promo?")
        await shot(page, "54-block-confirm")
        await page.click("#block-cancel")
        await block.wait_for(timeout=WAIT_MS)
        client_id = (await stored(client, second))["client_id"]
        response = await client.get(f"{API}/operator/clients/{client_id}")
        assert (await response.json())["blocked_at"] is None

        await block.click()
        await page.click("#block-confirm")
        await page.locator(
            "#blocking-status", has_text="Cliente bloqueado: 2 mensagens dele saíram da fila."
        ).wait_for(timeout=WAIT_MS)
        assert "Cliente bloqueado por Ana em" in await page.inner_text("#blocking.blocked")
        assert await page.inner_text("#blocked-badge") == "bloqueado"
        assert "encerrada por Ana (cliente bloqueado)" in await page.inner_text("#detail-state")
        await page.locator(f'#queue-list li[data-id="{first}"]').wait_for(
            state="detached", timeout=WAIT_MS
        )
        assert await listed(page) == [maria]
        assert "cliente bloqueado" in await page.inner_text(".history li")
        await shot(page, "55-customer-blocked")

        # Their next message is stored, closed, and never listed.
        update = telegram_text_update(9, 99, "MAIS PROMO", user_id=7777, name="Promo")
        assert (await post_telegram(client, update)).status == 200
        await page.locator(".history li", has_text="MAIS PROMO").wait_for(timeout=WAIT_MS)
        await asyncio.sleep(1)  # a live refresh of the queue, had it been listed
        assert await listed(page) == [maria]
        assert await queued(client) == [maria]

        await page.click("#unblock-customer")
        await page.locator("#blocking-status", has_text="Cliente desbloqueado").wait_for(
            timeout=WAIT_MS
        )
        await block.wait_for(timeout=WAIT_MS)
        assert await page.locator("#blocked-badge").count() == 0
        response = await client.get(f"{API}/operator/clients/{client_id}")
        assert (await response.json())["blocked_at"] is None

        # A message over REST: not a channel customer, nothing to block.
        rest = await post(client, "Pergunta de um integrador", "vendas")
        await page.click(f'#queue-list li[data-id="{rest["id"]}"]')
        await page.locator("#customer-message", has_text="Pergunta de um integrador").wait_for(
            timeout=WAIT_MS
        )
        assert await page.locator("#blocking").count() == 0
