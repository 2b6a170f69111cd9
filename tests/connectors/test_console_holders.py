"""Whose messages the queue shows, in a real browser (Debian's Chromium driven by
Playwright): Ana and Bruno each take a message; "Só as minhas" lists Ana's alone and "Só as
livres" the one nobody holds, kept live as Bruno gives his back, and across a reload.
Screenshots go to tests/artifacts/console/.
"""

from __future__ import annotations

from tests.conftest import issue_key
from tests.connectors.conftest import send_telegram_texts
from tests.connectors.test_console_browser import WAIT_MS, browser, shot
from tests.connectors.test_console_close import arrived, listed
from tests.connectors.test_console_work import DESKTOP, sign_in
from tests.routing_helpers import API

TEXTS = ["Quero trocar o tamanho", "Meu boleto venceu", "Vocês têm loja física?"]


async def test_an_operator_shows_only_their_messages_or_only_the_free_ones(
    live_client, channel_settings
):
    client = live_client
    await send_telegram_texts(
        client, [(TEXTS[0], 4242, "Maria"), (TEXTS[1], 5151, "João"), (TEXTS[2], 6262, "Rui")]
    )
    key = await issue_key(channel_settings.async_database_url or "", "operator", name="ana")
    async with browser() as new_page:
        page = await new_page(DESKTOP)
        await sign_in(page, client, key, "Ana")
        ids = [await arrived(page, text) for text in TEXTS]
        assert await listed(page) == ids
        for message_id, name in ((ids[0], "Ana"), (ids[1], "Bruno")):
            response = await client.post(
                f"{API}/operator/messages/{message_id}/take", json={"operator_name": name}
            )
            assert response.status == 200
        await page.locator(f'#queue-list li[data-id="{ids[1]}"] .badge.taken').wait_for(
            timeout=WAIT_MS
        )

        show = page.locator("#holder-filter")
        assert await show.locator("option").all_inner_texts() == [
            "Todas",
            "Só as livres",
            "Só as minhas",
        ]
        await show.select_option("mine")
        await page.locator(f'#queue-list li[data-id="{ids[1]}"]').wait_for(
            state="detached", timeout=WAIT_MS
        )
        assert await listed(page) == [ids[0]]
        assert await page.inner_text("#queue-count") == "1"
        await shot(page, "53-queue-only-mine")

        await show.select_option("free")
        await page.locator(f'#queue-list li[data-id="{ids[0]}"]').wait_for(
            state="detached", timeout=WAIT_MS
        )
        assert await listed(page) == [ids[2]]
        # Bruno gives his back: it is free, and the list shows it, live.
        response = await client.post(
            f"{API}/operator/messages/{ids[1]}/release", json={"operator_name": "Bruno"}
        )
        assert response.status == 200
        await page.locator(f'#queue-list li[data-id="{ids[1]}"]').wait_for(timeout=WAIT_MS)
        assert await listed(page) == [ids[1], ids[2]]

        # A reload keeps the choice.
        await page.reload()
        await page.locator(f'#queue-list li[data-id="{ids[2]}"]').wait_for(timeout=WAIT_MS)
        assert await show.input_value() == "free"
        assert await listed(page) == [ids[1], ids[2]]

        # Nothing of hers once she gives hers back: the list says so.
        response = await client.post(
            f"{API}/operator/messages/{ids[0]}/release", json={"operator_name": "Ana"}
        )
        assert response.status == 200
        await show.select_option("mine")
        await page.locator("#queue-empty", has_text="Você não está com nenhuma mensagem").wait_for(
            timeout=WAIT_MS
        )
        assert await listed(page) == []
        await show.select_option("")
        await page.locator(f'#queue-list li[data-id="{ids[2]}"]').wait_for(timeout=WAIT_MS)
        assert await listed(page) == ids


async def test_every_word_of_the_console_is_in_both_languages(live_client, channel_settings):
    """Each part of the console adds its words to both tables; one left out would show
    Portuguese in an English console."""
    key = await issue_key(channel_settings.async_database_url or "", "operator", name="ana")
    async with browser() as new_page:
        page = await new_page(DESKTOP)
        await sign_in(page, live_client, key, "Ana")
        missing = await page.evaluate(
            """() => {
                const [pt, en] = [STRINGS["pt-BR"], STRINGS.en].map((s) => Object.keys(s));
                return {
                    en: pt.filter((k) => !en.includes(k)),
                    pt: en.filter((k) => !pt.includes(k)),
                    keys: pt,
                };
            }"""
        )
        assert (missing["en"], missing["pt"]) == ([], [])
        # Every part's words were there to compare.
        parts = ("queue.title", "replies.button", "closing.button", "notes.title")
        parts += ("together.title", "window.field", "blocking.button", "filter.holder")
        assert [k for k in parts if k not in missing["keys"]] == []
