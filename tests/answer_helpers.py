"""Small histories on random vectors, and what calibrating fits on them: shared by the
answer model's tests."""

from __future__ import annotations

import numpy as np

from gateway.services.answer_model import (
    AnswerFit,
)
from gateway.services.calibration import fit_calibration
from gateway.services.projection import Projection, with_answers
from gateway.services.simulation import Simulated, simulate_history


def unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def random_history(seed: int = 5, times: int = 1) -> tuple[np.ndarray, list[str]]:
    """Four answers on 6-d vectors, given 10, 7, 3 times `times` and once."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(4, 6))
    counts = [10 * times, 7 * times, 3 * times, 1]
    rows = [centres[a] + rng.normal(0, 0.4, 6) for a, n in enumerate(counts) for _ in range(n)]
    answers = [f"answer {a}" for a, n in enumerate(counts) for _ in range(n)]
    return unit(np.array(rows)), answers


def simulated(
    vectors: np.ndarray, answers: list[str], texts: dict[str, np.ndarray] | None = None
) -> tuple[Projection, AnswerFit, list[Simulated]]:
    """What calibrating fits on this history (the answers' `texts` too), the answer
    model's fit behind it, and the questions the confidence model learns from."""
    projection, _ = fit_calibration(
        vectors, answers, temperature=0.02, model_id="m", answer_texts=texts
    )
    assert projection is not None
    assert projection.answers is not None
    _, scorer = with_answers(projection, vectors, answers, texts)
    assert scorer is not None
    cases = simulate_history(
        vectors, answers, temperature=0.01, projection=projection, scorer=scorer
    )
    return projection, scorer, cases
