"""docker-compose.yml, the Dockerfile and .env.example agree with the settings."""

from __future__ import annotations

import re

import yaml

from config.settings import Settings
from tests.conftest import REPO_ROOT


def test_compose_parses_and_names_its_services():
    compose = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"db", "app"}
    assert "pgvector" in services["db"]["image"]
    assert any(v.startswith("pgdata:") for v in services["db"]["volumes"])
    assert "pgdata" in compose["volumes"]
    assert services["app"]["build"] == "."
    assert services["app"]["env_file"] == ".env"
    assert services["app"]["depends_on"]["db"]["condition"] == "service_healthy"
    for name in ("db", "app"):
        assert services[name]["healthcheck"]["test"], name
    assert services["app"]["environment"]["DATABASE_URL"].startswith("postgresql://")
    assert (REPO_ROOT / "Dockerfile").read_text().count('CMD ["atende", "serve"]') == 1


def test_env_example_documents_every_setting():
    documented = set(
        re.findall(r"^#?\s*([A-Z0-9_]+)=", (REPO_ROOT / ".env.example").read_text(), re.MULTILINE)
    )
    expected = {"DATABASE_URL"} | {
        f"ATENDE_{name.upper()}" for name in Settings.model_fields if name != "database_url"
    }
    assert expected <= documented, sorted(expected - documented)
