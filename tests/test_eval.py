"""`atende eval`: the pt-BR set's held-out split, small labelled files, Bitext, and bad input."""

from __future__ import annotations

import json
import re
import socket
import subprocess
from pathlib import Path

import pytest

from gateway.evaluation.data import Example, stratified_split
from tests.conftest import PT_BR, PT_BR_PROVEDOR, require_shared, run_atende

FIXTURES = Path(__file__).parent / "fixtures"


def _run_eval(*args: str, server_url: str) -> subprocess.CompletedProcess:
    return run_atende("eval", *args, db=server_url, timeout=900)


def _eval(*args: str, server_url: str) -> dict:
    result = _run_eval(*args, "--json", server_url=server_url)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("path", [PT_BR, PT_BR_PROVEDOR], ids=["store", "provedor"])
def test_the_pt_br_sets_hold_what_the_issue_asks_of_them(path):
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    meta = rows[0]["_meta"]
    assert "licence" in meta
    assert "source" in meta
    messages = rows[1:]
    in_scope = [r for r in messages if r.get("scope") != "out"]
    assert len({r["intent"] for r in in_scope}) >= 40
    assert len(messages) >= 800
    assert len([r for r in messages if r.get("scope") == "out"]) >= 150
    # Written as customers type: abbreviations, no accents, all caps.
    texts = [r["text"] for r in messages]
    shorthand = re.compile(r"\b(vcs?|pq|q|tb|td|msm|mt|oq|qdo|qnd|hj|dps|kd|nd)\b")
    assert sum(bool(shorthand.search(t.lower())) for t in texts) >= 150
    assert sum(t.isupper() for t in texts) >= 20
    assert sum(t.isascii() for t in texts) >= len(texts) // 2


HELD_OUT_SEEDS = [13, 1, 2, 3]


def test_eval_on_the_held_out_pt_br_split(db_url, tmp_path):
    """The held-out half of the pt-BR set, which no parameter was chosen on, over the four
    splits whose mean README's "Measuring it" gives (about 40 s).

    atende's targets that the mean reaches are asserted as they are (top-1 0.85, sector
    accuracy 0.90, precision 0.95, no suggestion for 0.90 of out-of-scope and
    missing-intent messages; the silences a little under what was measured). Coverage
    (target 0.60) is not reached yet: its floor is the figure measured when the decision
    was last changed (0.553), less a little, and this test does not pretend otherwise.
    """
    chart = tmp_path / "curve.svg"
    seeds = ",".join(str(seed) for seed in HELD_OUT_SEEDS)
    report = _eval(
        str(PT_BR), "--split", "heldout", "--seeds", seeds, "--svg", str(chart), server_url=db_url
    )
    assert report["split"] == "heldout"
    assert report["seeds"] == HELD_OUT_SEEDS
    assert report["sector_accuracy_by_scope"]["in_scope"] >= 0.90
    assert report["precision"] >= 0.95
    assert report["no_suggestion"]["out_of_scope"] >= 0.96
    assert report["no_suggestion"]["missing_intent"] >= 0.92
    assert report["top1"] >= 0.85
    assert report["hit3"] >= 0.95
    # The console's possible answers, where no suggestion was made (0.932 measured).
    assert report["hit3_unsuggested"] >= 0.90
    assert report["coverage"] >= 0.54
    splits = report["splits"]
    assert [split["seeds"] for split in splits] == [[seed] for seed in HELD_OUT_SEEDS]
    for split in splits:
        assert split["asked"] == {"in_scope": 123, "missing_intent": 70, "out_of_scope": 90}
        # The history taught a projection and an answer model (from every answer's own
        # text too), and the votes were weighed and ordered by them.
        projection = split["calibration"]["projection"]
        assert projection["examples"] == split["history"]
        assert projection["answer_model"]["examples"] == split["history"]
        assert projection["answer_model"]["answers"] == 41
        assert projection["answer_model"]["texts"] == 41
        # And which words each answer was asked with, which the confidence read.
        assert projection["lexicon"]["answers"] == 41
        # The curve reads the same decision: coverage falls as the bar rises, and the row
        # at the configured bar is the headline.
        coverages = [row["coverage"] for row in split["curve"]]
        assert coverages == sorted(coverages, reverse=True)
        [at_bar] = [r for r in split["curve"] if r["min_confidence"] == split["min_confidence"]]
        assert (at_bar["coverage"], at_bar["precision"]) == (split["coverage"], split["precision"])
        # What the decision reaches at its best: at least what the bar gives where the
        # targets hold there, and no more than in-scope messages alone allow.
        reach = split["reachable"]
        holds = at_bar["precision"] >= 0.95 and min(split["no_suggestion"].values()) >= 0.90
        if holds:
            assert reach["coverage"] >= split["coverage"]
        if reach["coverage"] is not None:
            assert reach["in_scope_coverage"] >= reach["coverage"]
    # The splits differ (which intents are left out differs), and the headline is their
    # mean, between the least and the most of them.
    top1s = [split["top1"] for split in splits]
    assert len(set(top1s)) > 1
    assert report["top1"] == pytest.approx(sum(top1s) / len(top1s), abs=1e-4)
    assert report["ranges"]["top1"] == [min(top1s), max(top1s)]
    assert chart.read_text(encoding="utf-8").startswith("<svg")


def test_eval_on_a_second_business_written_after_the_decision(db_url):
    """The internet provider's set was written once every parameter had been chosen on the
    store's `dev`, so both of its splits are data the decision never saw; its held-out
    split at the four seeds (about 40 s). Measured on 2026-12-07: top-1 0.870, in-scope
    sector 0.935, coverage 0.545 at precision 0.977, silent 0.992 / 0.939, and 0.614
    reachable. The targets it reaches are asserted as they are; coverage (target 0.60) is
    not reached at the bar, and its floor is a little under what was measured."""
    seeds = ",".join(str(seed) for seed in HELD_OUT_SEEDS)
    report = _eval(str(PT_BR_PROVEDOR), "--split", "heldout", "--seeds", seeds, server_url=db_url)
    assert report["top1"] >= 0.85
    assert report["sector_accuracy_by_scope"]["in_scope"] >= 0.90
    assert report["precision"] >= 0.95
    assert report["no_suggestion"]["out_of_scope"] >= 0.95
    assert report["no_suggestion"]["missing_intent"] >= 0.90
    assert report["hit3"] >= 0.95
    assert report["coverage"] >= 0.52
    for split in report["splits"]:
        assert split["asked"] == {"in_scope": 123, "missing_intent": 70, "out_of_scope": 90}


def test_the_split_is_stratified_and_fixed_by_the_seed():
    examples = [Example(f"{label} {i}", None, label, None) for label in "abc" for i in range(10)]
    history, asked = stratified_split(examples, 0.3, seed=7)
    assert len(asked) == 9
    assert sorted(e.intent for e in asked) == ["a"] * 3 + ["b"] * 3 + ["c"] * 3
    assert stratified_split(examples, 0.3, seed=7) == (history, asked)
    assert stratified_split(examples, 0.3, seed=8)[1] != asked


def test_eval_on_a_portuguese_file(db_url):
    report = _eval(str(FIXTURES / "eval_pt.jsonl"), server_url=db_url)
    assert report["history"] + report["questions"] == 72
    assert (report["seeds"], report["splits"]) == ([13], [])
    # 2 of the 12 intents are left out of the history and asked whole (6 rows each); of
    # the other 10, 30% of each is asked.
    assert report["asked"] == {"in_scope": 20, "missing_intent": 12, "out_of_scope": 0}
    assert sum(sum(row.values()) for row in report["confusion"].values()) == 32
    # Routing and retrieval work on paraphrases they never saw (not a target, a floor).
    assert report["sector_accuracy"] >= 0.8
    assert report["top1"] >= 0.8
    assert report["threshold"] == 0.88
    assert report["latency_ms"]["p95"] >= report["latency_ms"]["p50"] > 0
    coverages = [row["coverage"] for row in report["curve"]]
    assert coverages == sorted(coverages, reverse=True)


def test_eval_on_a_bitext_style_csv_with_a_sector_map(db_url, tmp_path):
    report = _eval(
        str(FIXTURES / "eval_en_bitext_style.csv"),
        "--sector-map",
        str(FIXTURES / "eval_en_sector_map.json"),
        "--missing-intents",
        "0",
        "--threshold",
        "0.99",
        "--svg",
        str(tmp_path / "chart.svg"),
        server_url=db_url,
    )
    assert set(report["confusion"]) == {"vendas", "financeiro", "suporte", "geral"}
    assert report["sector_accuracy"] >= 0.75
    # At 0.99 almost nothing is near enough; what is suggested is then right.
    assert report["coverage"] < 0.5
    assert (tmp_path / "chart.svg").read_text().startswith("<svg")


def test_eval_on_bitext_meets_the_targets(db_url):
    """All of Bitext's sample (about 100 s here).

    Bitext writes every response anew, so each intent keeps its first answer as the one
    validated answer (`--answers per-intent`). It has no out-of-scope rows; its missing
    intents are the 15% left out of the history."""
    data = require_shared("datasets", "bitext")
    report = _eval(
        str(data / "Bitext_Sample_Customer_Support_Training_Dataset.csv"),
        "--sector-map",
        str(data / "intent_to_sector.json"),
        "--answers",
        "per-intent",
        server_url=db_url,
    )
    assert report["sector_accuracy_by_scope"]["in_scope"] >= 0.90
    assert report["top1"] >= 0.85
    assert report["precision"] >= 0.95
    assert report["coverage"] >= 0.60
    assert report["no_suggestion"]["missing_intent"] >= 0.90


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.jsonl", "", "the file is empty"),
        ("columns.csv", "question,intent\nOi,saudacao\n", "row 1: no `text` (or `instruction`)"),
        (
            "sector.jsonl",
            '{"text": "Oi", "sector": "geral"}\n{"text": "Boleto", "sector": "cobranca"}\n',
            "row 2, field sector: unknown sector 'cobranca'",
        ),
        ("text.jsonl", '{"text": " ", "sector": "geral"}\n', "row 1, field text: missing or empty"),
        ("latin1.csv", "text,sector\nOl\u00e1,geral\n".encode("latin-1"), "row 2: not UTF-8"),
        (
            "one.jsonl",
            '{"text": "Oi", "intent": "saudacao", "sector": "geral", "answer": "Ola!"}\n',
            "nothing to ask",
        ),
    ],
)
def test_bad_eval_data_is_named_by_row_and_field_and_writes_nothing(
    db_url, tmp_path, name, content, message
):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    chart = tmp_path / "chart.svg"
    result = _run_eval(str(path), "--svg", str(chart), server_url=db_url)
    assert result.returncode == 1
    assert message in result.stderr, result.stderr
    assert str(path) in result.stderr
    assert "Traceback" not in result.stderr
    assert not chart.exists()


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (["--seeds", "13,x"], "seeds are whole numbers separated by commas"),
        (["--seeds", "13,1,13"], "a seed is named twice"),
        (["--seeds", "13,1", "--seed", "2"], "not allowed with argument --seed"),
        (["--threshold", "2"], "--threshold: 2 is not in [-1, 1]"),
        (["--test-fraction", "1"], "--test-fraction: 1 is not in [0, 1)"),
    ],
)
def test_bad_arguments_are_refused_before_anything_runs(db_url, given, message):
    result = _run_eval(str(FIXTURES / "eval_pt.jsonl"), *given, server_url=db_url)
    assert result.returncode == 2
    assert message in result.stderr, result.stderr


def test_a_run_that_asks_no_in_scope_message_says_why_nothing_was_scored(db_url):
    # --test-fraction 0: every answered message is history; only the left-out intents
    # and the out-of-scope messages are asked, so no suggestion can be judged right.
    result = _run_eval(str(FIXTURES / "eval_pt.jsonl"), "--test-fraction", "0", server_url=db_url)
    assert result.returncode == 0, result.stderr
    assert "no in-scope message with an intent or answer was asked" in result.stdout


def test_a_chart_it_could_not_write_is_refused_before_the_run(db_url, tmp_path):
    chart = tmp_path / "no-such-folder" / "chart.svg"
    result = _run_eval(str(FIXTURES / "eval_pt.jsonl"), "--svg", str(chart), server_url=db_url)
    assert result.returncode == 1
    assert f"--svg {chart}: {chart.parent} is not a folder atende may write to" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_embedding_provider_that_fails_stops_eval_with_a_clear_error(db_url):
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    provider = {
        "ATENDE_EMBEDDING_PROVIDER": "openai",
        "ATENDE_OPENAI_BASE_URL": f"http://127.0.0.1:{port}/v1",
        "ATENDE_EMBEDDING_MODEL": "unreachable-embed",
        "ATENDE_EMBEDDING_DIM": "8",
    }
    result = run_atende(
        "eval", str(FIXTURES / "eval_pt.jsonl"), db=db_url, timeout=300, settings=provider
    )
    assert result.returncode == 1
    assert "atende: the embedding provider failed" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_eval_with_sectors_only_scores_routing_but_not_suggestions(db_url, tmp_path):
    rows = [json.loads(line) for line in (FIXTURES / "eval_pt.jsonl").read_text().splitlines()]
    data = tmp_path / "sectors.jsonl"
    data.write_text(
        "\n".join(json.dumps({"text": r["text"], "sector": r["sector"]}) for r in rows),
        encoding="utf-8",
    )
    report = _eval(str(data), server_url=db_url)
    assert report["sector_accuracy"] >= 0.8
    assert report["top1"] is None
    assert report["precision"] is None
    assert report["curve"] == []
