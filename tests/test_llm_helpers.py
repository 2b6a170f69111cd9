"""The optional LLM classifier and drafting, against a loopback chat completions server."""

from __future__ import annotations

import pytest

from tests.conftest import make_settings
from tests.fake_openai import FakeOpenAI, create_fake_openai_app
from tests.routing_helpers import import_kb, kb_ids, post, wait_until_triaged

BOLETO = "Meu boleto venceu ontem, como faço para pagar?"


@pytest.fixture
def fake() -> FakeOpenAI:
    return FakeOpenAI()


@pytest.fixture
async def chat_url(fake, aiohttp_server) -> str:
    server = await aiohttp_server(create_fake_openai_app(fake))
    return str(server.make_url("/v1"))


@pytest.fixture
def llm_options() -> dict:
    return {"llm_routing": True}


@pytest.fixture
def settings(db_url, chat_url, llm_options):
    return make_settings(
        db_url,
        openai_base_url=chat_url,
        openai_api_key="sk-test",
        llm_model="fake-chat",
        **llm_options,
    )


async def test_the_classifier_names_the_sector(client, fake):
    fake.chat_reply = "admin"
    body = await wait_until_triaged(client, (await post(client, BOLETO))["id"])
    assert body["sector"] == "admin"
    assert body["route_reason"]["method"] == "llm"
    assert body["route_reason"]["vote"] == "financeiro"  # what the embeddings said
    [request] = fake.chat_requests
    assert request["model"] == "fake-chat"
    system, user = request["messages"]
    assert user == {"role": "user", "content": BOLETO}
    assert "financeiro" in system["content"]
    assert "geral" in system["content"]


async def test_a_reply_naming_no_sector_leaves_the_vote(client, fake):
    fake.chat_reply = "I am not sure, maybe billing?"
    body = await wait_until_triaged(client, (await post(client, BOLETO))["id"])
    assert body["sector"] == "financeiro"
    assert body["route_reason"]["method"] == "zero-shot"


async def test_a_failing_model_leaves_the_vote_and_says_why(client, fake):
    fake.chat_fail_with = 500
    body = await wait_until_triaged(client, (await post(client, BOLETO))["id"])
    assert body["sector"] == "financeiro"
    assert "500" in body["route_reason"]["llm_error"]


class TestDrafting:
    @pytest.fixture
    def llm_options(self) -> dict:
        return {"llm_drafting": True}

    async def test_a_draft_is_written_from_the_retrieved_answers(self, client, fake):
        question = "Como faço para pedir o reembolso de uma compra?"
        answer = "Peça o reembolso em Minha conta > Pedidos, em até 7 dias."
        await import_kb(client, [{"question": question, "answer": answer, "sector": "financeiro"}])
        source = (await kb_ids(client, [question]))[question]

        def reply(messages):
            # Quote the validated answer the server was given, so the test sees it was sent.
            assert answer in messages[0]["content"]
            return "Olá! " + answer

        fake.chat_reply = reply
        body = await wait_until_triaged(
            client, (await post(client, "Como peço o reembolso da compra?", "financeiro"))["id"]
        )
        assert body["validated_by"] == "ai"
        assert body["answer"] == "Olá! " + answer
        assert body["suggestion"]["method"] == "llm-draft"
        assert body["suggestion"]["source_ids"] == [source]
        assert len(fake.chat_requests) == 1

    async def test_nothing_near_enough_means_no_draft(self, client, fake):
        body = await wait_until_triaged(
            client, (await post(client, "O aplicativo fecha sozinho", "suporte"))["id"]
        )
        assert body["answer"] is None
        assert fake.chat_requests == []

    async def test_a_failing_model_falls_back_to_the_validated_answer(self, client, fake):
        question = "Qual o horário de atendimento?"
        await import_kb(
            client, [{"question": question, "answer": "Das 8h às 20h.", "sector": "geral"}]
        )
        fake.chat_fail_with = 503
        body = await wait_until_triaged(
            client, (await post(client, "Qual é o horário de atendimento?", "geral"))["id"]
        )
        assert body["answer"] == "Das 8h às 20h."
        assert body["suggestion"]["method"] == "retrieval"
