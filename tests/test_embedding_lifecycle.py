"""A failing provider never loses a message; a change of model is caught and rebuilt."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import text

from config.errors import ConfigurationError
from config.sectors import load_sectors
from gateway.app import create_app
from gateway.embeddings import create_embedder
from gateway.embeddings.local import NORMALISED_SUFFIX, TEXT_OPTIONS
from gateway.http import keys
from gateway.services.embedding import reembed_all
from storage import sector_indexes
from storage.database import create_engine, session_factory
from tests.conftest import bearer, issue_key, make_settings, wait_until_embedded
from tests.fake_openai import FakeOpenAI, create_fake_openai_app, fake_embedding_settings
from tests.test_api_messages import API, post_message


async def _started(settings) -> TestClient:
    key = await issue_key(settings.async_database_url)
    client = TestClient(TestServer(create_app(settings)), headers=bearer(key))
    try:
        await client.start_server()
    except BaseException:
        await client.close()
        raise
    return client


async def test_failed_embedding_keeps_the_message_and_is_filled_later(aiohttp_server, db_url):
    fake = FakeOpenAI(dim=384, fail_with=500)
    server = await aiohttp_server(create_fake_openai_app(fake))
    settings = make_settings(
        db_url,
        **fake_embedding_settings(str(server.make_url("")), 384, model="local-embed"),
    )
    client = await _started(settings)
    try:
        created = await post_message(client, "Meu pedido não chegou")
        engine = create_engine(db_url)
        try:
            for _ in range(400):  # the worker's first attempt
                async with engine.connect() as conn:
                    row = (
                        await conn.execute(
                            text(
                                "SELECT embed_attempts, embed_error, embedding IS NULL AS missing "
                                "FROM chat_interactions WHERE id = :id"
                            ),
                            {"id": created["id"]},
                        )
                    ).one()
                if row.embed_attempts:
                    break
                await client.get("/")  # let the loop run the worker
            assert row.embed_attempts >= 1
            assert row.missing
            assert "500" in row.embed_error
            response = await client.get(f"{API}/messages/{created['id']}")
            stored = await response.json()
            assert stored["message"] == "Meu pedido não chegou"
            assert stored["embedded"] is False

            fake.fail_with = None
            embedder = create_embedder(settings)
            try:
                done = await reembed_all(
                    engine, session_factory(engine), embedder, missing_only=True, batch_size=8
                )
            finally:
                await embedder.aclose()
            assert done == 1
            assert (await wait_until_embedded(client, created["id"]))["embedded"]
        finally:
            await engine.dispose()
    finally:
        await client.close()


async def test_model_change_is_refused_then_rebuilt_by_reembed(db_url):
    e5 = make_settings(db_url)
    client = await _started(e5)
    try:
        created = await post_message(client, "Quero cancelar minha assinatura")
        await wait_until_embedded(client, created["id"])
    finally:
        await client.close()

    use = make_settings(db_url, embedding_provider="use-multilingual")
    with pytest.raises(ConfigurationError) as refused:
        await _started(use)
    message = str(refused.value)
    assert "e5-small" in message
    assert "use-multilingual" in message
    assert "atende reembed" in message

    env = {
        **os.environ,
        "ATENDE_DATABASE_URL": db_url,
        "ATENDE_EMBEDDING_PROVIDER": "use-multilingual",
        "ATENDE_LOG_LEVEL": "warning",
    }
    # In a thread: the CLI runs its own event loop and this test's must stay free.
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "gateway.cli", "reembed", "--quiet"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "embedded 1 messages with use-multilingual" in result.stdout
    # Rebuilt by reembed itself, at the new size, not left for the next start to make.
    engine = create_engine(db_url)
    try:
        async with engine.connect() as conn:
            rebuilt = {i.sector: i.valid for i in await sector_indexes.existing_indexes(conn)}
    finally:
        await engine.dispose()
    assert rebuilt == dict.fromkeys(load_sectors(use.sectors_file).names, True)

    client = await _started(use)
    try:
        response = await client.post(
            f"{API}/messages/search",
            json={"query": "como encerro meu plano", "similarity_threshold": 0.0},
        )
        [hit] = (await response.json())["items"]
        assert hit["id"] == created["id"]
    finally:
        await client.close()
    engine = create_engine(db_url)
    try:
        async with engine.connect() as conn:
            column = await conn.scalar(
                text(
                    "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
                    "WHERE attrelid = 'chat_interactions'::regclass AND attname = 'embedding'"
                )
            )
            index = await conn.scalar(
                text(
                    "SELECT count(*) FROM pg_indexes "
                    "WHERE indexname = 'ix_chat_interactions_embedding'"
                )
            )
        assert column == "vector(512)"
        assert index == 1
    finally:
        await engine.dispose()


async def _found_by_search(client: TestClient, query: str) -> set[int]:
    response = await client.post(
        f"{API}/messages/search", json={"query": query, "similarity_threshold": 0.0}
    )
    return {hit["id"] for hit in (await response.json())["items"]}


@pytest.mark.parametrize(
    ("setting", "suffix"),
    [(f"embedding_{option}", suffix) for option, suffix in TEXT_OPTIONS.items()],
)
async def test_a_database_embedded_before_a_text_option_keeps_its_kind_of_vectors(
    db_url, setting, suffix
):
    # A new database spells pt-BR abbreviations out and puts accents back by default.
    assert suffix in create_embedder(make_settings(db_url)).model_id
    client = await _started(make_settings(db_url, **{setting: False}))
    try:
        old = await post_message(client, "vc pode cancelar minha assinatura? nao uso mais")
        await wait_until_embedded(client, old["id"])
    finally:
        await client.close()

    # The new default, left unset, must not stop a database embedded before it: new
    # messages are embedded as the stored ones were, so one search still finds them all.
    client = await _started(make_settings(db_url))
    try:
        kept = client.server.app[keys.EMBEDDER].model_id
        assert NORMALISED_SUFFIX in kept
        assert suffix not in kept
        new = await post_message(client, "vc pode cancelar meu pedido? nao chegou")
        await wait_until_embedded(client, new["id"])
        assert await _found_by_search(client, "vc cancela") == {old["id"], new["id"]}
    finally:
        await client.close()
    engine = create_engine(db_url)
    try:
        async with engine.connect() as conn:
            models = set(await conn.scalars(text("SELECT embedding_model FROM chat_interactions")))
        assert models == {kept}

        # Asked for by name, the option needs the vectors rebuilt first.
        with pytest.raises(ConfigurationError) as refused:
            await _started(make_settings(db_url, **{setting: True}))
        assert suffix in str(refused.value)
        assert "atende reembed" in str(refused.value)

        # Filling missing vectors keeps to the stored kind; a full rebuild adopts the default.
        for missing_only, done in ((True, 0), (False, 2)):
            embedder = create_embedder(make_settings(db_url))
            try:
                assert (
                    await reembed_all(
                        engine,
                        session_factory(engine),
                        embedder,
                        missing_only=missing_only,
                        batch_size=8,
                    )
                    == done
                )
            finally:
                await embedder.aclose()
            assert (suffix in embedder.model_id) is not missing_only
    finally:
        await engine.dispose()
    client = await _started(make_settings(db_url))
    try:
        assert (
            client.server.app[keys.EMBEDDER].model_id
            == create_embedder(make_settings(db_url)).model_id
        )
        assert await _found_by_search(client, "vc cancela") == {old["id"], new["id"]}
    finally:
        await client.close()
