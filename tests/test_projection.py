"""The projection `atende calibrate` learns from the validated history: fitted on how
phrasings of one answer vary, it ranks by what tells answers apart."""

from __future__ import annotations

import numpy as np
import pytest

from gateway.services.calibration import fit_calibration
from gateway.services.projection import MIN_ROWS, Projection, fit_projection
from storage.neighbours import Neighbour
from storage.vectors import QueryVector


def _unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def _history(seed: int = 3) -> tuple[np.ndarray, list[str]]:
    """Two answers on 8-d vectors: they differ by 0.6 along axis 0, while their phrasings
    wander far along axis 1 (how a customer types, not what they ask): the "Boleto"
    ones from -1 to 1, the "Pix" ones from 0.2 to 1."""
    rng = np.random.default_rng(seed)
    rows, answers = [], []
    for answer, centre, low in (("Pix sim.", 0.3, 0.2), ("Boleto não.", -0.3, -1.0)):
        for _ in range(15):
            vector = np.zeros(8)
            vector[0] = centre + rng.normal(0, 0.02)
            vector[1] = rng.uniform(low, 1.0)
            vector[2:] = 1.0 + rng.normal(0, 0.02, 6)
            rows.append(vector)
            answers.append(answer)
    return _unit(np.array(rows)), answers


def _neighbour(row: int, vector: np.ndarray, query: np.ndarray) -> Neighbour:
    return Neighbour(row, "financeiro", None, f"m{row}", float(vector @ query), vector=vector)


def test_the_projection_ranks_the_same_answer_above_the_same_way_of_typing():
    vectors, answers = _history()
    projection = fit_projection(vectors, answers, model_id="m")
    assert projection is not None
    assert projection.dim == 8
    assert projection.examples == 30
    assert projection.model_id == "m"
    # A "Pix" question typed as only "Boleto" rows were, at the far end of axis 1.
    query = _unit(np.array([[0.3, -1.0, 1, 1, 1, 1, 1, 1]]))[0]
    rows = [_neighbour(i, v, query) for i, v in enumerate(vectors)]
    by_cosine = max(rows, key=lambda n: n.similarity)
    assert answers[by_cosine.id] == "Boleto não."
    ranked = projection.rescore(query, rows)
    assert answers[ranked[0].id] == "Pix sim."
    assert [n.similarity for n in ranked] == sorted((n.similarity for n in ranked), reverse=True)
    # Each keeps its cosine, which the similarity floor reads.
    assert ranked[0].raw == pytest.approx(float(vectors[ranked[0].id] @ query))
    assert ranked[0].cosine == ranked[0].raw
    assert rows[0].cosine == rows[0].similarity


def test_rows_without_their_vector_cannot_be_rescored():
    vectors, answers = _history()
    projection = fit_projection(vectors, answers)
    assert projection is not None
    bare = Neighbour(1, None, "a", "m", 0.9)
    assert projection.rescore(vectors[0], [bare]) == []


def test_answers_given_once_teach_nothing():
    vectors, answers = _history()
    assert fit_projection(vectors, [f"answer {i}" for i in range(len(answers))]) is None
    few = MIN_ROWS - 1
    assert fit_projection(vectors[:few], answers[:few]) is None


def test_the_projection_is_stored_as_json_and_read_back_exactly():
    vectors, answers = _history()
    projection = fit_projection(vectors, answers, model_id="m")
    assert projection is not None
    again = Projection.from_json(projection.as_json())
    assert np.array_equal(again.matrix, projection.matrix)
    assert again.summary() == projection.summary()
    assert "matrix" not in projection.summary()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"dim": 9}, "needs 9x9 floats"),
        ({"matrix": "not base64!"}, "base64"),
        ({"dim": 0}, "needs 0x0 floats"),
    ],
)
def test_a_damaged_projection_is_refused(change, message):
    vectors, answers = _history()
    projection = fit_projection(vectors, answers)
    assert projection is not None
    with pytest.raises(ValueError, match=message):
        Projection.from_json({**projection.as_json(), **change})


def test_calibrating_fits_the_confidence_model_under_the_projection():
    vectors, answers = _history()
    projection, model = fit_calibration(vectors, answers, temperature=0.02, model_id="m")
    assert projection is not None
    assert model is not None
    assert model.source == "calibrated"
    assert model.model_id == "m"
    # No model, no projection: the two are only ever stored together.
    assert fit_calibration(vectors[:10], answers[:10], temperature=0.02, model_id="m") == (
        None,
        None,
    )


def test_a_message_is_projected_once_per_projection_and_rescored_as_before():
    rng = np.random.default_rng(4)
    first = Projection(matrix=rng.normal(size=(6, 6)), examples=10)
    second = Projection(matrix=rng.normal(size=(6, 6)), examples=10)
    raw = _unit(rng.normal(size=(1, 6)))[0]
    query = QueryVector(raw)
    calls = []
    once = query.mapped(first, lambda v: calls.append(1) or first.apply(v))
    assert query.mapped(first, lambda v: calls.append(1) or first.apply(v)) is once
    assert len(calls) == 1
    np.testing.assert_allclose(first.apply_query(query), first.apply(raw))
    # Another projection (a calibration read again) is applied anew.
    np.testing.assert_allclose(second.apply_query(query), second.apply(raw))
    rows = _unit(rng.normal(size=(5, 6)))
    neighbours = [_neighbour(i, rows[i], raw) for i in range(5)]
    ranked = first.rescore(query, neighbours)
    expected = first.apply(rows) @ first.apply(raw)
    assert [n.id for n in ranked] == list(np.argsort(-expected))
    for n in ranked:
        assert n.similarity == pytest.approx(expected[n.id], abs=1e-6)
        assert n.raw == pytest.approx(float(rows[n.id] @ raw), abs=1e-6)
        np.testing.assert_allclose(n.projected, first.apply(rows[n.id]), atol=1e-6)
