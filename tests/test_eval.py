"""`atende eval` on small labelled files (Portuguese JSONL, a bitext-style CSV) and bitext."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.evaluation import Example, stratified_split
from tests.conftest import REPO_ROOT, require_shared

FIXTURES = Path(__file__).parent / "fixtures"


def _eval(*args: str, server_url: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATENDE_")}
    env.pop("DATABASE_URL", None)
    env.update(ATENDE_DATABASE_URL=server_url, ATENDE_LOG_LEVEL="warning")
    result = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "eval", *args, "--json"],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


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
    assert report["questions"] == 24  # 30% of each of the 12 intents
    assert sum(sum(row.values()) for row in report["confusion"].values()) == 24
    # Routing and retrieval work on paraphrases they never saw (not a target, a floor).
    assert report["sector_accuracy"] >= 0.8
    assert report["top1"] >= 0.8
    assert report["threshold"] == 0.88
    assert report["latency_ms"]["p95"] >= report["latency_ms"]["p50"] > 0
    coverages = [row["coverage"] for row in report["sweep"]]
    assert coverages == sorted(coverages, reverse=True)


def test_eval_on_a_bitext_style_csv_with_a_sector_map(db_url, tmp_path):
    report = _eval(
        str(FIXTURES / "eval_en_bitext_style.csv"),
        "--sector-map",
        str(FIXTURES / "eval_en_sector_map.json"),
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


@pytest.mark.slow
def test_eval_on_bitext_meets_the_targets(db_url):
    data = require_shared("datasets", "bitext")
    report = _eval(
        str(data / "Bitext_Sample_Customer_Support_Training_Dataset.csv"),
        "--sector-map",
        str(data / "intent_to_sector.json"),
        server_url=db_url,
    )
    assert report["sector_accuracy"] >= 0.90
    assert report["top1"] >= 0.85
    assert report["precision"] >= 0.95


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
    assert report["sweep"] == []
