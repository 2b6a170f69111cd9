"""Schemathesis against atende's own `/openapi.json`, over real HTTP on loopback.

The real app on a real database answers requests generated from the document it publishes:
valid ones and ones that break the document on purpose (wrong types, missing fields, values
out of range). Whatever it is sent, atende must never answer 5xx, and every answer must be
one the document promises: its status, its content type and its body's schema.

Embeddings come from the loopback OpenAI fake (a hash of the words, no model to load), so
the run spends its time in atende. The background worker is off, so the state every request
meets depends on the requests before it and not on timing; generation is derandomized, so
two runs send the same requests.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from gateway.app import create_app
from tests.conftest import DEFAULT_DIM, bearer, issue_key, make_settings
from tests.fake_openai import FakeOpenAI, create_fake_openai_app, fake_embedding_settings

API = "/api/v1"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Examples per operation and generation mode: 28 operations x 2 modes x 40 is up to 2,240 requests.
EXAMPLES = 40
LEAST_REQUESTS = 1000
# A server-sent event stream stays open until its client leaves, so no single request/response
# check applies to it (tests/test_console.py covers it).
NOT_FUZZED = {("GET", f"{API}/operator/events")}


@dataclass
class Run:
    """What the fuzzing sent and what broke, per operation."""

    requests: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)


@pytest.fixture
async def served(db_url: str, aiohttp_server) -> tuple[str, str]:
    """The real app on loopback (base URL) and an admin key for it."""
    openai = await aiohttp_server(create_fake_openai_app(FakeOpenAI(dim=DEFAULT_DIM)))
    settings = make_settings(
        db_url,
        **fake_embedding_settings(str(openai.make_url("")), DEFAULT_DIM),
        run_worker=False,
        # A thousand requests a minute from one key is the point here, not abuse.
        rate_limit_per_minute=0,
        anonymous_rate_limit_per_minute=0,
    )
    server = await aiohttp_server(create_app(settings))
    return str(server.make_url("")).rstrip("/"), await issue_key(db_url)


def _seed(session: requests.Session, base_url: str) -> None:
    """A few messages and validated answers, so small generated ids name real rows."""
    pairs = [
        {"question": "Como peço reembolso?", "answer": "Em Minha conta > Pedidos.", "sector": None},
        {"question": "Esqueci minha senha", "answer": "Use 'Esqueci a senha' no login."},
    ]
    response = session.post(f"{base_url}{API}/admin/kb/import", json={"items": pairs})
    assert response.status_code == 200, response.text
    for text in ("Meu boleto venceu", "Quero cancelar", "O app não abre"):
        body = {"client_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7", "message": text}
        response = session.post(f"{base_url}{API}/messages/", json=body)
        assert response.status_code == 201, response.text


def _fuzz_operation(
    operation: schemathesis.APIOperation,
    mode: GenerationMode,
    base_url: str,
    session: requests.Session,
    run: Run,
) -> None:
    """Up to EXAMPLES requests to one operation; raises the first failure, shrunk."""

    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    @hypothesis.settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        phases=[hypothesis.Phase.generate, hypothesis.Phase.shrink],
        print_blob=False,
    )
    def one(case: schemathesis.Case) -> None:
        run.requests[operation.label] += 1
        response = case.call_and_validate(
            base_url=base_url, session=session, checks=CHECKS, timeout=30
        )
        run.statuses[response.status_code] += 1

    one()


def _fuzz(base_url: str, key: str) -> Run:
    """Every operation, valid and invalid input; runs in a thread while the app serves."""
    run = Run()
    session = requests.Session()
    session.headers.update(bearer(key))
    _seed(session, base_url)
    schema = schemathesis.openapi.from_url(
        f"{base_url}/openapi.json", config=schemathesis.Config(), timeout=10
    )
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in NOT_FUZZED:
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _fuzz_operation(operation, mode, base_url, session, run)
            except hypothesis.errors.Unsatisfiable:
                # Nothing of this operation can be made invalid (no parameters, no body).
                continue
            except (Exception, BaseExceptionGroup) as exc:  # each is reported; the rest run
                run.failures.append(f"{operation.label} [{mode.value}]: {exc}")
    return run


async def test_every_answer_conforms_to_the_openapi_document(served: tuple[str, str]) -> None:
    base_url, key = served
    started = time.perf_counter()
    # The generator is synchronous (requests); the app keeps serving on this loop meanwhile.
    run = await asyncio.to_thread(_fuzz, base_url, key)
    elapsed = time.perf_counter() - started
    total = sum(run.requests.values())
    summary = (
        f"{total} requests in {elapsed:.1f}s over {len(run.requests)} operations; "
        f"statuses {dict(sorted(run.statuses.items()))}"
    )
    print(summary)
    assert not run.failures, summary + "\n\n" + "\n\n".join(run.failures)
    assert total >= LEAST_REQUESTS, summary
    assert len(run.requests) >= 20, summary
    # Both kinds of answer were exercised, or the checks above prove little.
    assert any(200 <= s < 300 for s in run.statuses), summary
    assert any(400 <= s < 500 for s in run.statuses), summary


# Regression tests for what the fuzzing found, one plain example each.


async def test_text_postgresql_cannot_store_is_a_422_naming_the_field(client) -> None:
    # A NUL (and a lone surrogate, which has no UTF-8 form) made the insert fail: a 500.
    items = [{"question": "ok", "answer": "ok"}, {"question": "a\x00b", "answer": "fine"}]
    response = await client.post(f"{API}/admin/kb/import", json={"items": items})
    assert response.status == 422
    body = await response.json()
    assert [d["field"] for d in body["error"]["details"]] == ["items.1.question"]
    assert "NUL" in body["error"]["message"]

    raw = '{"client_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7", "message": "oi \\ud800"}'
    response = await client.post(
        f"{API}/messages/", data=raw, headers={"Content-Type": "application/json"}
    )
    assert response.status == 422
    assert [d["field"] for d in (await response.json())["error"]["details"]] == ["message"]

    response = await client.get(f"{API}/messages/sector/financeiro%00")
    assert response.status == 422
    response = await client.get(f"{API}/operator/queue", params={"sector": "vendas\x00"})
    assert response.status == 422
    response = await client.delete(f"{API}/admin/keys/x%00")
    assert response.status == 422


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("[" * 100_000 + "]" * 100_000, "nests too deeply"),
        ('{"message": ' + "9" * 5000 + "}", "cannot be read"),
    ],
    ids=["deep", "long-integer"],
)
async def test_json_the_decoder_refuses_is_a_400(client, raw: str, says: str) -> None:
    # Both raised from json.loads as something other than JSONDecodeError: a 500.
    response = await client.post(
        f"{API}/messages/search", data=raw, headers={"Content-Type": "application/json"}
    )
    assert response.status == 400
    assert says in (await response.json())["error"]["message"]


async def test_the_metrics_route_documents_its_text_body(client) -> None:
    document = await (await client.get("/openapi.json")).json()
    assert document["paths"]["/metrics"]["get"]["responses"]["200"]["content"] == {
        "text/plain": {"schema": {"type": "string"}}
    }
    events = document["paths"][f"{API}/operator/events"]["get"]["responses"]["200"]
    assert list(events["content"]) == ["text/event-stream"]
