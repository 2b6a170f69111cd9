"""Answers' own vectors, kept between calibrations (storage/answer_vectors.py): each
answer is embedded once per model, and `atende calibrate` keeps them from its dry run."""

from __future__ import annotations

import json

import numpy as np

from gateway.embeddings.local import UseMultilingualEmbedder
from gateway.evaluation.data import load_examples, select_split
from gateway.http import keys
from gateway.services.answer_model import embed_answer_texts
from gateway.services.calibration import CALIBRATION_KEY
from storage.answer_vectors import AnswerVectorRepository
from storage.database import create_engine, session_factory
from tests.conftest import PT_BR, query_sql, run_atende
from tests.routing_helpers import import_kb

STORED = "SELECT value FROM atende_meta WHERE key = :k"


class _Asked:
    """A real embedder, named `model_id`, that notes which answers it was asked to embed."""

    def __init__(self, embedder: UseMultilingualEmbedder, model_id: str) -> None:
        self.inner, self.model_id, self.asked = embedder, model_id, []
        self.parallel_batches = embedder.parallel_batches

    async def embed_answers(self, texts: list[str]) -> list[list[float]]:
        self.asked += texts
        return await self.inner.embed_answers(texts)


async def test_each_answer_is_embedded_once_per_model_when_a_store_keeps_them(db_url):
    long = "Para trocar o produto, " + "siga os passos do app. " * 300  # beyond a btree entry
    given = ["Pague com Pix."] * 60 + ["Boleto em Pedidos."] * 38 + [long] * 2
    engine = create_engine(db_url)
    store = AnswerVectorRepository(session_factory(engine))
    use = UseMultilingualEmbedder(threads=2)
    try:
        first = _Asked(use, "model-a")
        texts = await embed_answer_texts(first, given, store=store)
        assert first.asked == ["Pague com Pix.", "Boleto em Pedidos.", long]
        # Calibrating again, with one more answer now given twice: only it is embedded,
        # and the kept vectors come back as they were computed.
        again = _Asked(use, "model-a")
        grown = await embed_answer_texts(again, [*given, "Rastreie no app."] * 2, store=store)
        assert again.asked == ["Rastreie no app."]
        for key, vector in texts.items():
            np.testing.assert_allclose(grown[key], vector, atol=1e-7)
        assert list(grown) == [*texts, "rastreie no app."]
        # Another model embeds them all again, and the first model's vectors are dropped.
        other = _Asked(use, "model-b")
        await embed_answer_texts(other, given, store=store)
        assert len(other.asked) == 3
        assert await store.known("model-a", list(grown)) == {}
    finally:
        await use.aclose()
        await engine.dispose()
    rows = await query_sql(db_url, "SELECT model_id, count(*) AS n FROM answer_vectors GROUP BY 1")
    assert rows == [{"model_id": "model-b", "n": 3}]


async def test_each_answer_is_embedded_once_and_kept_from_the_dry_run(client):
    """A history big enough for an answer model: twelve intents of the pt-BR set's tuning
    split, ten messages each. The dry run embeds each answer and keeps its vector."""
    db = client.server.app[keys.SETTINGS].async_database_url
    dev = [e for e in select_split(load_examples(PT_BR), "dev") if e.answer]
    intents = sorted({e.intent for e in dev if e.intent})[:12]
    items = [
        {"question": e.text, "answer": e.answer, "sector": e.sector}
        for e in dev
        if e.intent in intents
    ]
    assert len(items) == 120
    await import_kb(client, items)
    count = "SELECT model_id, count(*) AS n FROM answer_vectors GROUP BY model_id"

    dry = run_atende("calibrate", db=db)
    assert dry.returncode == 0, dry.stderr
    assert await query_sql(db, STORED, k=CALIBRATION_KEY) == []
    model_id = client.server.app[keys.EMBEDDER].model_id
    assert await query_sql(db, count) == [{"model_id": model_id, "n": 12}]

    applied = run_atende("calibrate", "--apply", "--json", db=db)
    assert applied.returncode == 0, applied.stderr
    report = json.loads(applied.stdout)
    assert report["projection"]["after"]["answer_model"]["texts"] == 12
    assert await query_sql(db, count) == [{"model_id": model_id, "n": 12}]
