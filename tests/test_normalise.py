"""Text is evened out before a local model embeds it, and the vectors say so."""

from __future__ import annotations

import numpy as np
import pytest

from gateway.embeddings.local import NORMALISED_SUFFIX, UseMultilingualEmbedder
from gateway.embeddings.normalise import normalise_text


@pytest.mark.parametrize(
    ("typed", "evened"),
    [
        ("Não recebi o BOLETO!!!", "nao recebi o boleto!!"),
        ("naaao   recebi o boletooo", "naao recebi o boletoo"),
        ("COBRANÇA em DUPLICIDADE", "cobranca em duplicidade"),
        ("correr, assessor", "correr, assessor"),  # Portuguese's own double letters stay
        ("が", "が"),  # a Japanese voicing mark is part of its letter
        ("Йогурт", "йогурт"),  # and so is a Cyrillic breve
        ("", ""),
    ],
)
def test_normalise_text(typed: str, evened: str) -> None:
    assert normalise_text(typed) == evened


async def test_the_same_question_typed_two_ways_gets_one_vector() -> None:
    evened = UseMultilingualEmbedder(normalise=True)
    raw = UseMultilingualEmbedder(normalise=False)
    try:
        assert evened.model_id == raw.model_id + NORMALISED_SUFFIX
        a, b = await evened.embed(["Não recebi o BOLETO!!!", "nao recebi o boleto!!"])
        np.testing.assert_allclose(a, b, atol=1e-6)
        c, d = await raw.embed(["Não recebi o BOLETO!!!", "nao recebi o boleto!!"])
        assert float(np.dot(c, d)) < 0.999  # the model itself tells them apart
    finally:
        await evened.aclose()
        await raw.aclose()
