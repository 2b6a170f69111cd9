"""A sector's explicit auto-send: a retrieved answer above the sector's own stricter
threshold reaches the customer without an operator; everywhere else nothing does."""

from __future__ import annotations

import asyncio

import pytest
import yaml
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from config.errors import ConfigurationError
from config.sectors import load_sectors
from config.settings import CONFIG_DIR
from gateway.app import create_app
from gateway.http import keys
from tests.conftest import bearer, issue_key, make_settings, query_sql
from tests.routing_helpers import API, CLIENT, import_kb, wait_until_triaged

KB = [
    {
        "question": "O aplicativo fecha sozinho quando eu abro",
        "sector": "suporte",
        "answer": "Atualize o aplicativo pela loja e reinicie o celular.",
    },
    {
        "question": "Quanto custa o plano anual?",
        "sector": "vendas",
        "answer": "O plano anual custa R$ 99.",
    },
]


def sectors_file(tmp_path, **auto: float):
    data = yaml.safe_load((CONFIG_DIR / "sectors.yaml").read_text())
    for sector in data["sectors"]:
        if sector["name"] in auto:
            sector["auto_send_threshold"] = auto[sector["name"]]
    path = tmp_path / "sectors.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return path


async def test_only_an_opted_in_sector_above_its_threshold_sends(tmp_path, db_url, aiohttp_server):
    received: list[dict] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.json_response({"ok": True})

    callback = web.Application()
    callback.router.add_post("/hook", hook)
    server = await aiohttp_server(callback)
    settings = make_settings(db_url, sectors_file=sectors_file(tmp_path, suporte=0.97))
    key = await issue_key(db_url)
    client = TestClient(TestServer(create_app(settings)), headers=bearer(key))
    await client.start_server()
    try:
        await import_kb(client, KB)
        rows = {}
        for text, sector in [
            ("O aplicativo fecha sozinho quando eu abro", "suporte"),  # the same words
            ("Quanto custa o plano anual?", "vendas"),  # no auto-send in vendas
            ("Meu app está fechando sozinho depois que atualizei", "suporte"),  # paraphrase
        ]:
            response = await client.post(
                f"{API}/messages/",
                json={
                    "client_id": CLIENT,
                    "sector": sector,
                    "message": text,
                    "callback_url": str(server.make_url("/hook")),
                },
            )
            rows[text] = await wait_until_triaged(client, (await response.json())["id"])

        same = rows["O aplicativo fecha sozinho quando eu abro"]
        assert same["validated_by"] == "ai"
        assert same["suggestion"]["auto_send"] is True
        assert same["answered_at"] is not None  # answered for the customer, by its sector
        for _ in range(400):
            if received:
                break
            await asyncio.sleep(0.05)
        assert [r["answer"] for r in received] == [KB[0]["answer"]]

        vendas = rows["Quanto custa o plano anual?"]
        assert vendas["answer"] == KB[1]["answer"]  # suggested, but waits for a human
        assert vendas["suggestion"]["auto_send"] is False
        assert vendas["answered_at"] is None
        paraphrase = rows["Meu app está fechando sozinho depois que atualizei"]
        if paraphrase["suggestion"] is not None:
            expected = paraphrase["suggestion"]["similarity"] >= 0.97
            assert paraphrase["suggestion"]["auto_send"] is expected

        await asyncio.sleep(0.5)  # give a wrongful send the chance to show itself
        sent = [r["answer"] for r in received]
        auto_sent = sum(
            1 for row in rows.values() if row["suggestion"] and row["suggestion"]["auto_send"]
        )
        assert len(sent) == auto_sent
        response = await client.get(f"{API}/messages/{same['id']}")
        assert (await response.json())["delivery"]["status"] == "sent"
    finally:
        await client.close()


async def test_a_message_closed_before_its_triage_is_not_auto_sent(
    tmp_path, db_url, aiohttp_server
):
    settings = make_settings(
        db_url, sectors_file=sectors_file(tmp_path, suporte=0.97), run_worker=False
    )
    client = TestClient(TestServer(create_app(settings)), headers=bearer(await issue_key(db_url)))
    await client.start_server()
    try:
        app = client.server.app
        await import_kb(client, KB)
        received: list[dict] = []

        async def answered(request: web.Request) -> web.Response:
            received.append(await request.json())
            return web.json_response({"ok": True})

        hook = web.Application()  # where an auto-sent answer to a REST message would go
        hook.router.add_post("/hook", answered)
        callback = str((await aiohttp_server(hook)).make_url("/hook"))
        body = {
            "client_id": str(CLIENT),
            "sector": "suporte",
            "message": KB[0]["question"],
            "callback_url": callback,
        }
        created = await (await client.post(f"{API}/messages/", json=body)).json()
        response = await client.post(
            f"{API}/operator/messages/{created['id']}/close", json={"reason": "duplicate"}
        )
        assert response.status == 200, await response.text()
        await app[keys.EMBEDDING_WORKER].drain()  # triages what it embeds, as in `serve`
        await app[keys.PIPELINE].drain()

        row = await (await client.get(f"{API}/messages/{created['id']}")).json()
        assert row["suggestion"]["auto_send"] is True  # it would have been sent
        assert (row["close_reason"], row["answered_at"], row["delivery"]) == (
            "duplicate",
            None,
            None,
        )
        sent = await query_sql(db_url, "SELECT count(*) AS n FROM deliveries")
        assert sent == [{"n": 0}]
        await asyncio.sleep(0.5)  # give a wrongful send the chance to show itself
        assert received == []
    finally:
        await client.close()


def test_auto_send_threshold_must_be_stricter_than_suggestions(tmp_path, db_url):
    path = sectors_file(tmp_path, suporte=0.5)
    assert load_sectors(path).get("suporte").auto_send_threshold == 0.5
    from gateway.services.pipeline import build_pipeline

    settings = make_settings(db_url, sectors_file=path)
    with pytest.raises(ConfigurationError, match=r"suporte.*stricter"):
        build_pipeline(settings, load_sectors(path), None, None)
