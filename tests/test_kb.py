"""Knowledge-base import: CSV and JSONL, over the CLI and REST, idempotent."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

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


GOOD_LINE = "Qual o prazo de entrega?,Chega em até 5 dias úteis.\n"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            ("question,answer\n" + GOOD_LINE).encode() + "Olá,Oi\n".encode("latin-1"),
            "line 3: not UTF-8 (byte 0xe1",
        ),
        (
            ("question,answer\n" + GOOD_LINE + "O\x00i,Oi\n").encode(),
            "line 3: question must not contain NUL",
        ),
    ],
)
def test_cli_import_refuses_what_it_cannot_store_and_stores_none_of_the_file(
    db_url, tmp_path, content, message
):
    bad = tmp_path / "bad.csv"
    bad.write_bytes(content)
    result = _atende("kb", "import", str(bad), "--quiet", db_url=db_url)
    assert result.returncode == 1
    assert message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    good = tmp_path / "good.csv"
    good.write_text("question,answer\n" + GOOD_LINE, encoding="utf-8")
    result = _atende("kb", "import", str(good), "--quiet", db_url=db_url)
    assert "1 pairs, 1 added, 0 known" in result.stdout, result.stdout + result.stderr


def test_cli_import_reads_a_spreadsheets_utf8_csv_with_its_byte_order_mark(db_url, tmp_path):
    sheet = tmp_path / "sheet.csv"
    sheet.write_bytes(b"\xef\xbb\xbf" + "question,answer\nTem loja física?,Só online.\n".encode())
    result = _atende("kb", "import", str(sheet), "--quiet", db_url=db_url)
    assert result.returncode == 0, result.stderr
    assert "1 pairs, 1 added, 0 known" in result.stdout


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


async def test_rest_import_reads_a_csv_body_with_a_byte_order_mark(client):
    body = "\ufeffquestion,answer,sector\nVocês aceitam Pix?,Sim.,financeiro\n".encode()
    response = await client.post(
        f"{API}/admin/kb/import", data=body, headers={"Content-Type": "text/csv"}
    )
    assert response.status == 200, await response.text()
    assert (await response.json())["added"] == 1
