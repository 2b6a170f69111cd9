"""`atende eval --reviews`: the figures after an operator reviewed another split's messages
through the gateway's own pipeline and operator service (gateway.evaluation.reviews)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_atende

FIXTURES = Path(__file__).parent / "fixtures"

# Ours, not the labelled file's: what no answer should be suggested for.
OUT_OF_SCOPE = [
    "oi tudo bem?",
    "bom diaaa",
    "vcs vendem pizza?",
    "qual o placar do jogo ontem",
    "obrigado!!",
    "kkkkkkk",
    "qual a previsao do tempo amanha",
    "me indica um filme",
]


def _two_splits(tmp_path: Path) -> Path:
    """The small pt-BR file, each intent's first three rows split `a` and the rest `b`,
    with four out-of-scope messages in each."""
    seen: dict[str, int] = {}
    rows = []
    for line in (FIXTURES / "eval_pt.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        seen[row["intent"]] = seen.get(row["intent"], 0) + 1
        rows.append({**row, "split": "a" if seen[row["intent"]] <= 3 else "b"})
    for i, text in enumerate(OUT_OF_SCOPE):
        rows.append({"text": text, "scope": "out", "kind": "other", "split": "ab"[i % 2]})
    path = tmp_path / "two_splits.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


def _eval(*args: str, db: str) -> dict:
    result = run_atende("eval", *args, "--json", db=db, timeout=600)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_reviews_of_another_split_grow_the_history_before_the_questions(db_url, tmp_path):
    path = _two_splits(tmp_path)
    before = _eval(str(path), "--split", "b", db=db_url)
    after = _eval(str(path), "--split", "b", "--reviews", "a", db=db_url)
    assert before["reviews"] == {}
    # The same questions are asked, after the stream.
    assert after["asked"] == before["asked"]
    reviews = after["reviews"]
    assert reviews["split"] == "a"
    # The intents split `b` leaves out (two of twelve, three rows each in `a`) stay out of
    # the stream: nothing answers them in the history, before or after.
    missing_in_a = before["asked"]["missing_intent"]
    in_scope = 36 - missing_in_a
    assert missing_in_a == 6
    assert reviews["arrived"] == in_scope + 4
    # Every in-scope message ended with a human's answer: approved, edited or written.
    assert reviews["approved"] + reviews["corrected"] + reviews["written"] == in_scope
    assert reviews["rejected_out_of_scope"] + reviews["ignored_out_of_scope"] == 4
    # Each answer joined the validated history, and `atende calibrate` re-fitted on it.
    assert after["history"] == before["history"] + in_scope
    assert after["calibration"]["projection"]["examples"] == after["history"]
    # No sector had the 30 reviews `atende calibrate` needs to set its bar.
    assert reviews["sector_bars"] == {}


def test_reviews_are_read_as_a_summary_line(db_url, tmp_path):
    path = _two_splits(tmp_path)
    result = run_atende("eval", str(path), "--split", "b", "--reviews", "a", db=db_url)
    assert result.returncode == 0, result.stderr
    assert "after reviews of split a: 34 messages arrived first" in result.stdout
    assert "sectors' bars from the reviews: none" in result.stdout


def test_reviews_of_half_the_history_end_on_the_default_runs_history(db_url, tmp_path):
    path = _two_splits(tmp_path)
    before = _eval(str(path), "--split", "b", db=db_url)
    after = _eval(str(path), "--split", "b", "--reviews", "history", db=db_url)
    reviews = after["reviews"]
    assert reviews["split"] == "history"
    # Half of the out-of-scope messages arrive as reviews instead of being asked.
    assert before["asked"]["out_of_scope"] == 4
    assert after["asked"] == {**before["asked"], "out_of_scope": 2}
    in_scope = reviews["arrived"] - 2
    assert reviews["rejected_out_of_scope"] + reviews["ignored_out_of_scope"] == 2
    assert reviews["approved"] + reviews["corrected"] + reviews["written"] == in_scope
    # Half of each answer's rows arrived (rounded up), and at the end every one of them
    # is validated: the default run's history, reached through reviews.
    assert 0.5 * before["history"] <= in_scope < before["history"]
    assert after["history"] == before["history"]


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (["--reviews", "a"], "name the split to evaluate with --split"),
        (["--split", "a", "--reviews", "a"], "another split to review first"),
        (["--split", "a", "--reviews", "c"], "no rows with split 'c'; the data has: a, b"),
    ],
)
def test_reviews_without_two_splits_are_refused_before_anything_runs(
    db_url, tmp_path, given, message
):
    result = run_atende("eval", str(_two_splits(tmp_path)), *given, db=db_url)
    assert result.returncode == 1
    assert message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
