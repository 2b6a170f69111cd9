"""The files customers send (a photo, a voice message, a document), fetched from the
platform for an operator: `GET /api/v1/messages/{id}/file` against the loopback Telegram
Bot API (getFile, then its file server) and WhatsApp Graph API (the media's URL, then the
file), both with the channel's credentials; and in the console, in a real browser, the
picture shown and any other file downloaded."""

from __future__ import annotations

import struct
import zlib

from tests.conftest import issue_key
from tests.connectors.conftest import (
    interactions,
    post_telegram,
    post_whatsapp,
    telegram_text_update,
    whatsapp_body,
    whatsapp_text,
)
from tests.connectors.test_console_browser import WAIT_MS, browser, shot
from tests.connectors.test_console_work import DESKTOP, sign_in
from tests.routing_helpers import API, post


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A PNG of one colour, written by hand (what a customer's photo is, to atende)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


PNG = png(240, 160, (31, 111, 235))
# An SVG that would run a script if it were shown from atende's origin.
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


def telegram_photo(update_id: int, file_id: str) -> dict:
    return {
        "update_id": update_id,
        "message": {
            "message_id": 100 + update_id,
            "from": {"id": 5, "is_bot": False, "first_name": "Rui"},
            "chat": {"id": 5, "type": "private"},
            "date": 1_700_000_000,
            "photo": [
                {"file_id": f"{file_id}-small", "file_unique_id": "s", "width": 90, "height": 60},
                {"file_id": file_id, "file_unique_id": "b", "width": 900, "height": 600},
            ],
            "caption": "o produto chegou assim",
        },
    }


async def _stored(app_client) -> dict[str, int]:
    return {r["message"]: r["id"] for r in await interactions(app_client)}


async def test_a_telegram_photo_is_fetched_with_the_bots_token(app_client, fake_telegram):
    fake_telegram.files["big"] = ("photos/file_7.jpg", PNG)
    assert (await post_telegram(app_client, telegram_photo(1, "big"))).status == 200
    assert (await post_telegram(app_client, telegram_photo(2, "gone"))).status == 200
    assert (await post_telegram(app_client, telegram_text_update(3, 9, "oi"))).status == 200
    ids = [r["id"] for r in await interactions(app_client)]

    response = await app_client.get(f"{API}/messages/{ids[0]}/file")
    assert response.status == 200, await response.text()
    assert await response.read() == PNG  # the largest size of the photo
    assert response.content_type == "image/jpeg"  # a photo's path says what it is
    assert response.headers["Content-Disposition"] == "inline"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response.headers["Content-Security-Policy"]
    assert ("getFile", {"file_id": "big"}) in fake_telegram.calls

    # The platform no longer has it: 502, naming it; a text carries no file: 404.
    response = await app_client.get(f"{API}/messages/{ids[1]}/file")
    assert response.status == 502
    assert "Invalid file_id" in (await response.json())["error"]["message"]
    response = await app_client.get(f"{API}/messages/{ids[2]}/file")
    assert response.status == 404
    assert (await response.json())["error"]["message"] == f"message {ids[2]} carries no file"


async def test_a_whatsapp_file_is_fetched_from_its_short_lived_url(app_client, fake_whatsapp):
    fake_whatsapp.media["m1"] = ("image/png", PNG)
    fake_whatsapp.media["m2"] = ("image/svg+xml", SVG)
    messages = [
        {"from": "5511999990000", "id": f"wamid.{n}", "timestamp": "1700000000", "type": kind,
         kind: {"id": media_id, "mime_type": mime, "caption": f"arquivo {n}",
                **({"filename": "nota fiscal.svg"} if kind == "document" else {})}}
        for n, (kind, media_id, mime) in enumerate(
            [("image", "m1", "image/png"), ("document", "m2", "image/svg+xml"),
             ("image", "m9", "image/png")]
        )
    ] + [whatsapp_text("wamid.text", "oi")]  # fmt: skip
    assert (await post_whatsapp(app_client, whatsapp_body(messages))).status == 200
    ids = await _stored(app_client)

    response = await app_client.get(f"{API}/messages/{ids['arquivo 0']}/file")
    assert response.status == 200, await response.text()
    assert (await response.read(), response.content_type) == (PNG, "image/png")
    assert response.headers["Content-Disposition"] == "inline"

    # An SVG could run a script from atende's origin: it is only ever downloaded.
    response = await app_client.get(f"{API}/messages/{ids['arquivo 1']}/file")
    assert await response.read() == SVG
    assert response.headers["Content-Disposition"] == (
        "attachment; filename*=UTF-8''nota%20fiscal.svg"
    )
    response = await app_client.get(f"{API}/messages/{ids['arquivo 2']}/file")
    assert response.status == 502
    response = await app_client.get(f"{API}/messages/{ids['oi']}/file")
    assert response.status == 404


async def test_a_rest_message_or_an_unknown_one_has_no_file(app_client):
    created = await post(app_client, "Meu pedido não chegou")
    response = await app_client.get(f"{API}/messages/{created['id']}/file")
    assert response.status == 404
    response = await app_client.get(f"{API}/messages/999999/file")
    assert response.status == 404


async def test_the_console_shows_the_picture_and_downloads_the_document(
    app_client, channel_settings, fake_telegram, fake_whatsapp, tmp_path
):
    fake_telegram.files["big"] = ("photos/file_7.jpg", PNG)
    fake_whatsapp.media["m2"] = ("image/svg+xml", SVG)
    assert (await post_telegram(app_client, telegram_photo(1, "big"))).status == 200
    document = {
        "from": "5511999990000",
        "id": "wamid.doc",
        "timestamp": "1700000000",
        "type": "document",
        "document": {"id": "m2", "mime_type": "image/svg+xml", "filename": "nota.svg",
                     "caption": "a nota"},
    }  # fmt: skip
    assert (await post_whatsapp(app_client, whatsapp_body([document]))).status == 200
    ids = await _stored(app_client)
    key = await issue_key(channel_settings.async_database_url or "", "operator", name="ana")

    async with browser() as new_page:
        page = await new_page(DESKTOP)
        await sign_in(page, app_client, key, "Ana")
        await page.click(f'#queue-list li[data-id="{ids["o produto chegou assim"]}"]')
        picture = page.locator("#customer-file img.customer-picture")
        await picture.wait_for(timeout=WAIT_MS)
        assert await picture.evaluate("img => img.complete && img.naturalWidth === 240")
        assert await picture.get_attribute("alt") == "Imagem enviada pelo cliente"
        await shot(page, "24-customer-picture")

        # Anything else is downloaded, never shown from atende's page.
        await page.click(f'#queue-list li[data-id="{ids["a nota"]}"]')
        button = page.locator("#file-download")
        assert await button.inner_text() == "Baixar o arquivo do cliente (document)"
        async with page.expect_download(timeout=WAIT_MS) as download_info:
            await button.click()
        download = await download_info.value
        assert download.suggested_filename == "nota.svg"
        saved = tmp_path / "nota.svg"
        await download.save_as(str(saved))
        assert saved.read_bytes() == SVG
        assert await page.locator("#customer-file img").count() == 0
