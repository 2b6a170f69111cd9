"""The `atende` command as a user runs it: settings errors, and `serve` on the embedded
defaults, stopped and started again with its data."""

from __future__ import annotations

import gc
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import weakref
from pathlib import Path

import pytest
from pydantic import ValidationError

from config.settings import Settings


def _env(**values: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("ATENDE_") and k != "DATABASE_URL"
    }
    env.update(values)
    return env


def _atende(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


class _Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the collector frees it


def test_a_started_process_freezes_what_it_keeps_and_collects_what_it_dropped():
    from gateway.cli.server import freeze_long_lived

    gc.disable()  # no collection of its own in between
    try:
        kept = _Node()
        dropped = weakref.ref(_Node())
        assert dropped() is not None  # garbage the collector has yet to find
        freeze_long_lived()
        assert dropped() is None
        assert gc.get_freeze_count() > 0
        assert not any(o is kept for o in gc.get_objects())  # no full collection walks it
    finally:
        gc.unfreeze()
        gc.enable()
    assert any(o is kept for o in gc.get_objects())


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ATENDE_PORT", "abc"),
        ("ATENDE_LOG_FORMAT", "xml"),
        ("ATENDE_DATABASE_URL", "mysql://x"),
        ("ATENDE_LOG_LEVEL", "loud"),
        ("ATENDE_EMBEDDING_PROVIDER", "word2vec"),
    ],
)
def test_invalid_setting_stops_the_start_and_is_named(tmp_path, name, value):
    result = _atende("serve", env=_env(**{name: value}), cwd=tmp_path)
    assert result.returncode == 1
    assert name in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_database_is_explained(tmp_path):
    env = _env(ATENDE_DATABASE_URL="postgresql://atende@127.0.0.1:9/atende")
    result = _atende("migrate", env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert "cannot reach the database" in result.stderr
    assert "Traceback" not in result.stderr


def test_openai_provider_needs_its_model():
    with pytest.raises(ValidationError, match="ATENDE_EMBEDDING_MODEL"):
        Settings(_env_file=None, embedding_provider="openai")


def test_settings_come_from_dotenv(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("ATENDE_PORT=9100\nDATABASE_URL=postgresql://db/atende\n")
    monkeypatch.chdir(tmp_path)
    for key in ("ATENDE_PORT", "DATABASE_URL", "ATENDE_DATABASE_URL"):
        monkeypatch.delenv(key, raising=False)
    settings = Settings()
    assert settings.port == 9100
    assert settings.async_database_url == "postgresql+asyncpg://db/atende"
    assert "db/atende" not in repr(settings)  # the URL may hold a password


def test_bad_sectors_file_is_explained(tmp_path):
    sectors = tmp_path / "sectors.yaml"
    sectors.write_text("sectors:\n  - name: Financeiro Geral\n")
    result = _atende("serve", env=_env(ATENDE_SECTORS_FILE=str(sectors)), cwd=tmp_path)
    assert result.returncode == 1
    assert str(sectors) in result.stderr
    assert "sectors.0.name" in result.stderr


def test_a_taken_port_stops_the_start_before_anything_starts(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        data = tmp_path / "data"
        # No database URL: the embedded database, which must not start.
        env = _env(ATENDE_PORT=str(port), ATENDE_DATA_DIR=str(data))
        result = _atende("serve", env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in result.stderr
    assert "Traceback" not in result.stderr
    assert not data.exists()


def test_a_data_folder_atende_cannot_write_stops_the_start_and_is_named(tmp_path):
    taken = tmp_path / "data"
    taken.write_text("a file where the data folder should be")
    result = _atende("migrate", env=_env(ATENDE_DATA_DIR=str(taken)), cwd=tmp_path)
    assert result.returncode == 1
    assert f"cannot make the embedded PostgreSQL's folder {taken / 'pg'}" in result.stderr
    assert "ATENDE_DATA_DIR" in result.stderr
    assert "Traceback" not in result.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _request(url: str, body: dict | None = None, key: str | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    request = urllib.request.Request(url, data=data, headers=headers)
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def _serve_env(tmp_path: Path, port: int) -> dict[str, str]:
    return _env(
        ATENDE_DATA_DIR=str(tmp_path / "data"), ATENDE_PORT=str(port), ATENDE_LOG_FORMAT="json"
    )


def _serve(tmp_path: Path, port: int) -> subprocess.Popen:
    env = _serve_env(tmp_path, port)
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "serve"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if _request(f"http://127.0.0.1:{port}/health")["status"] == "ok":
                return process
        except OSError:
            time.sleep(0.2)
        assert process.poll() is None, process.stdout.read()
    process.kill()
    raise AssertionError("atende serve did not become healthy")


def _stop(process: subprocess.Popen) -> str:
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    return output


def test_serve_on_embedded_defaults_keeps_data_across_restarts(tmp_path):
    port = _free_port()
    base = f"http://127.0.0.1:{port}/api/v1"
    # The first key is made on the command line, against the same embedded database.
    made = _atende(
        "keys", "create", "--role", "admin", "--name", "first",
        env=_serve_env(tmp_path, port), cwd=tmp_path,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    process = _serve(tmp_path, port)
    try:
        created = _request(
            f"{base}/messages/",
            {
                "client_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
                "sector": "geral",
                "message": "Olá, preciso de ajuda",
            },
            key,
        )
    finally:
        output = _stop(process)
    events = [json.loads(line)["event"] for line in output.splitlines() if line.startswith("{")]
    assert "embedded_database_started" in events
    assert "embedded_database_stopped" in events
    assert not (tmp_path / "data" / "pg" / "postmaster.pid").exists()

    process = _serve(tmp_path, port)
    try:
        again = _request(f"{base}/messages/{created['id']}", key=key)
        assert again["message"] == "Olá, preciso de ajuda"
    finally:
        _stop(process)
