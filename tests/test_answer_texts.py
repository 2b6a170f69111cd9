"""Each answer's own text in the answer model: one more example of it, and the question's
similarity to it added to the answer's score."""

from __future__ import annotations

import numpy as np
import pytest

from gateway.embeddings.local import UseMultilingualEmbedder
from gateway.services.answer_model import (
    TEXT_WEIGHT,
    AnswerFit,
    AnswerModel,
    embed_answer_texts,
)
from gateway.services.calibration import fit_calibration
from gateway.services.suggestions import Calibration, Candidate, SuggestionMaker
from storage.neighbours import Neighbour
from storage.reviews import answer_digest
from storage.vectors import matrix_text
from tests.answer_helpers import random_history, simulated, unit


def test_an_answers_own_text_is_one_more_example_of_it():
    vectors, answers = random_history()
    texts = unit(np.random.default_rng(11).normal(size=(4, 6)))
    keys = [f"answer {a}" for a in range(4)]
    fit = AnswerFit(vectors, answers, texts=dict(zip(keys, texts, strict=True)))
    # The answer given once keeps no column, so it gets no text either: its message
    # among the voters scores it, exactly.
    assert fit.texts == 3
    plain = AnswerFit(np.vstack([vectors, texts[:3]]), [*answers, *keys[:3]])
    assert np.allclose(fit.weights, plain.weights)
    model = fit.model()
    assert model.examples == len(answers)
    assert model.summary()["texts"] == 3
    assert AnswerModel.from_json(model.as_json()).texts == 3
    # A missing intent hides its messages and its text alike.
    hidden = fit.rows_of("answer 1")
    assert len(hidden) == 8
    kept = [i for i, a in enumerate(answers) if a != "answer 1"]
    refit = AnswerFit(
        vectors[kept], [answers[i] for i in kept], texts=dict(zip(keys, texts, strict=True))
    )
    held = fit.held_out(hidden)
    for key in refit.classes:
        expected = fit.design[hidden] @ refit.weights[:, refit.index[key]]
        assert held[:, fit.index[key]] == pytest.approx(expected, abs=1e-9)


def test_calibrating_with_answer_texts_simulates_missing_intents_without_them():
    vectors, answers = random_history(times=5)
    vectors_of_texts = unit(np.random.default_rng(3).normal(size=(4, 6)))
    texts = dict(zip(sorted(set(answers)), vectors_of_texts, strict=True))
    projection, _, cases = simulated(vectors, answers, texts)
    assert projection.answers is not None
    assert projection.answers.texts == 3
    missing = cases[1]  # the first message, asked with its answer taken out
    assert missing.missing
    kept = [i for i, a in enumerate(answers) if a != answers[0]]
    told = sorted(texts)
    projected = projection.apply([texts[k] for k in told])
    refit = AnswerFit(
        projection.apply(vectors[kept]),
        [answers[i] for i in kept],
        texts=dict(zip(told, projected, strict=True)),
    )
    # Each answer left scores as the fit without the missing one's messages and text
    # says, plus the part its own text adds (the stored model's, as at suggestion time).
    texts_part = projection.answers.text_rows
    assert texts_part is not None
    row_of = {d: i for i, d in enumerate(projection.answers.digests)}
    scores = np.append(projection.apply(vectors[0]), 1.0) @ refit.weights
    scores += [
        TEXT_WEIGHT * texts_part[row_of[answer_digest(key)]] @ vectors[0]
        if answer_digest(key) in row_of
        else 0.0
        for key in refit.classes
    ]
    assert missing.features[4] == pytest.approx(float(scores.max()), abs=1e-6)


async def test_only_answers_given_twice_are_embedded_once_each():
    given = ["Pague com Pix."] * 60 + ["Boleto em Pedidos."] * 40
    answers = [*given, "pague  com PIX.", "Uma vez só."]
    embedder = UseMultilingualEmbedder(threads=2)
    try:
        texts = await embed_answer_texts(embedder, answers, batch=1)
        expected = await embedder.embed_answers(["Pague com Pix.", "Boleto em Pedidos."])
        # A history too small for an answer model has nothing to learn them for.
        assert await embed_answer_texts(embedder, given[:99]) == {}
    finally:
        await embedder.aclose()
    # Keyed as the answer model keys answers; the first spelling is the one embedded.
    assert list(texts) == ["pague com pix.", "boleto em pedidos."]
    np.testing.assert_allclose(list(texts.values()), expected, atol=1e-6)


def _with_texts() -> tuple[np.ndarray, list[str], dict[str, np.ndarray], AnswerFit]:
    """A history, its answers' own (unprojected) vectors, and the fit that has both."""
    vectors, answers = random_history()
    keys = [f"answer {a}" for a in range(4)]
    texts = dict(zip(keys, unit(np.random.default_rng(11).normal(size=(4, 6))), strict=True))
    return vectors, answers, texts, AnswerFit(vectors, answers, texts=texts, raw_texts=texts)


def test_a_questions_closeness_to_an_answers_own_text_adds_to_its_score():
    vectors, answers, texts, fit = _with_texts()
    model = fit.model()
    query = unit(np.random.default_rng(9).normal(size=(1, 6)))[0]
    pool = {key: vectors[[i for i, a in enumerate(answers) if a == key]] for key in set(answers)}
    plain = model.scores(query, pool)
    scores = model.scores(query, pool, query)
    # Measured against the mean of the texts of the answers that keep a column, so a
    # question near all of them gains nothing from it.
    mean = np.mean([texts[f"answer {a}"] for a in range(3)], axis=0)
    for a in range(3):
        key = f"answer {a}"
        added = TEXT_WEIGHT * (texts[key] - mean) @ query
        assert scores[key] == pytest.approx(plain[key] + added, abs=1e-9)
        assert fit.text_scores(query)[fit.index[key]] == pytest.approx(added, abs=1e-9)
    # The answer given once keeps no column and no text: it counts as an average one.
    assert scores["answer 3"] == plain["answer 3"]
    assert fit.text_scores(query)[fit.index["answer 3"]] == 0.0
    # Stored and read back, it adds the same.
    again = AnswerModel.from_json(model.as_json())
    assert again.summary()["text_weight"] == TEXT_WEIGHT
    assert again.scores(query, pool, query) == pytest.approx(scores, abs=1e-6)
    # A model stored before the texts were read so scores as it did.
    older = model.as_json()
    del older["text_rows"]
    assert AnswerModel.from_json(older).scores(query, pool, query) == pytest.approx(plain, abs=1e-6)
    with pytest.raises(ValueError, match="needs 3x6 floats"):
        AnswerModel.from_json({**model.as_json(), "text_rows": matrix_text(np.ones((2, 6)))})


def test_a_suggestion_orders_answers_with_the_closeness_to_their_texts():
    vectors, answers = random_history(times=5)
    keys = sorted(set(answers))
    texts = dict(zip(keys, unit(np.random.default_rng(3).normal(size=(4, 6))), strict=True))
    projection, model = fit_calibration(
        vectors, answers, temperature=0.02, model_id="m", answer_texts=texts
    )
    assert projection is not None
    assert projection.answers is not None
    assert projection.answers.text_weight == TEXT_WEIGHT
    maker = SuggestionMaker(
        None,  # type: ignore[arg-type]
        model_id="m",
        threshold=0.0,
        calibration=Calibration(model=model, projection=projection),
    )
    query = unit(vectors[4:5] + vectors[30:31])[0]
    neighbours = [
        Neighbour(i, None, answers[i], "q", float(vectors[i] @ query), vectors[i])
        for i in range(len(answers))
    ]
    ranked = [Candidate(n, False, True) for n in projection.rescore(query, neighbours)]
    assessment = maker.assess(query, ranked)
    pool = {
        e.key: np.asarray([assessment.candidates[m].neighbour.projected for m in e.members])
        for e in assessment.evidence
    }
    projected = projection.apply(query)
    expected = projection.answers.scores(projected, pool, query)
    assert {e.key: e.score for e in assessment.evidence} == pytest.approx(expected)
    assert expected != pytest.approx(projection.answers.scores(projected, pool))
