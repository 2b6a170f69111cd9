"""The `atende` command: serve, migrate, worker, reembed, keys and more."""

# One module of this package per command group (server, knowledge, evaluation, calibrate,
# telegram, api_keys), each with its add_commands; this one reads the settings and runs the
# chosen command. The docstring above is `atende --help`'s description.

from __future__ import annotations

import argparse
import sys

from pydantic import ValidationError

from config.errors import ConfigurationError
from config.sectors import SectorConfigError
from config.settings import Settings
from gateway import __version__
from gateway.embeddings.base import EmbeddingError
from gateway.telemetry.logging import configure_logging


def load_settings() -> Settings:
    """Settings from the environment and `.env`, or exit naming each bad setting."""
    try:
        return Settings()
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            name = "ATENDE_" + "_".join(str(p) for p in err["loc"]).upper() if err["loc"] else ""
            lines.append(f"  {name or 'settings'}: {err['msg']}")
        sys.exit("atende: invalid settings:\n" + "\n".join(lines))


def build_parser() -> argparse.ArgumentParser:
    from gateway.cli import api_keys, calibrate, evaluation, knowledge, server, telegram

    parser = argparse.ArgumentParser(prog="atende", description=__doc__)
    parser.add_argument("--version", action="version", version=f"atende {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    # One module per command group, in the order `atende --help` lists them.
    for group in (server, knowledge, evaluation, calibrate, telegram, api_keys):
        group.add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    try:
        args.func(settings, args)
    except (ConfigurationError, SectorConfigError) as exc:
        sys.exit(f"atende: {exc}")
    except EmbeddingError as exc:
        # The provider failed (an OpenAI-compatible endpoint down, say): the command
        # stops before it stores anything, and says why.
        sys.exit(f"atende: the embedding provider failed: {exc}")
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
