"""Knowledge-base import: CSV and JSONL, over the CLI and REST, idempotent."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.conftest import run_atende
from tests.routing_helpers import API, import_kb, post, wait_until_triaged

FIXTURES = Path(__file__).parent / "fixtures"


def _atende(*args: str, db_url: str) -> subprocess.CompletedProcess:
    return run_atende(*args, db=db_url, timeout=180)


async def _count_kb(client) -> int:
    response = await client.get(f"{API}/messages/client/{_kb_client()}", params={"per_page": 100})
    return (await response.json())["total"]


def _kb_client() -> str:
    from storage.routing import KB_CLIENT_ID

    return str(KB_CLIENT_ID)


def test_cli_import_twice_adds_nothing_the_second_time(db_url):
    first = _atende("kb", "import", str(FIXTURES / "kb_pt.csv"), "--quiet", db_url=db_url)
    assert first.returncode == 0, first.stderr
    assert "3 pairs, 3 added, 0 known" in first.stdout
    again = _atende("kb", "import", str(FIXTURES / "kb_pt.csv"), "--quiet", db_url=db_url)
    assert again.returncode == 0, again.stderr
    assert "3 pairs, 0 added, 3 known" in again.stdout


def test_cli_import_names_the_bad_line(db_url, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        json.dumps({"question": "Oi", "answer": "Olá"})
        + "\n"
        + json.dumps({"question": "Oi", "answer": "Olá", "sector": "marte"})
        + "\n",
        encoding="utf-8",
    )
    result = _atende("kb", "import", str(bad), "--quiet", db_url=db_url)
    assert result.returncode != 0
    assert "line 2" in result.stderr
    assert "marte" in result.stderr


async def test_rest_import_is_idempotent_and_the_pairs_are_knowledge(client):
    items = [
        {"question": "Como emito a segunda via do boleto?", "answer": "Em Minha conta > Faturas."},
        {
            "question": "Esqueci minha senha",
            "answer": "Use 'Esqueci minha senha'.",
            "sector": "suporte",
        },
    ]
    assert await import_kb(client, items) == {"received": 2, "added": 2, "skipped": 0}
    assert await import_kb(client, items) == {"received": 2, "added": 0, "skipped": 2}
    assert await _count_kb(client) == 2

    body = await wait_until_triaged(
        client, (await post(client, "Como tiro a segunda via do boleto?", "financeiro"))["id"]
    )
    assert body["answer"] == "Em Minha conta > Faturas."


async def test_rest_import_accepts_a_jsonl_body_and_refuses_unknown_sectors(client):
    lines = "\n".join(
        json.dumps({"question": q, "answer": "Sim.", "sector": "vendas"})
        for q in ("Vocês entregam no sábado?", "Tem frete grátis?")
    )
    response = await client.post(
        f"{API}/admin/kb/import", data=lines, headers={"Content-Type": "application/x-ndjson"}
    )
    assert response.status == 200, await response.text()
    assert (await response.json())["added"] == 2

    response = await client.post(
        f"{API}/admin/kb/import",
        json={"items": [{"question": "Oi", "answer": "Olá", "sector": "marte"}]},
    )
    assert response.status == 422
    assert (await response.json())["error"]["details"][0]["field"] == "items.0"
