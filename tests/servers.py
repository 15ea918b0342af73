"""Real PostgreSQL and Redis servers for the tests, from the OS packages (DESIGN.md §2).

Each is started once per test session in a temporary folder, listening on a free loopback
port, with a password, and stopped afterwards. Where a server is not installed the tests
that need it skip, saying how to install it, except under CI (`CI=true`), where they fail:
CI installs both (see .ci/run), so a skip there would hide lost coverage.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest

# Passwords with characters that must be percent-encoded in a URL, so tests see both forms.
POSTGRES_PASSWORD = "pg-S3cret!pw"
REDIS_PASSWORD = "redis-S3cret!pw"
POSTGRES_USER = "stockout"
START_TIMEOUT_S = 30
INSTALL_HINT = "install it with `apt-get install -y postgresql redis-server` (Debian/Ubuntu; .ci/run does)"


def missing_server(what: str) -> None:
    """Skip the test (fail it under CI) because a server binary is not installed."""
    message = f"{what} is not installed: {INSTALL_HINT}"
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"{message}; under CI the server tests must run, not skip")
    pytest.skip(message)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _postgres_binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    return candidates[0] if candidates else None


def _wait_for_port(port: int, process: subprocess.Popen | None, what: str, log: Path | None) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            break
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    detail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
    raise RuntimeError(f"{what} did not start listening on 127.0.0.1:{port}\n{detail}")


@dataclass(frozen=True)
class PostgresServer:
    port: int

    def url(self, database: str) -> str:
        return f"postgresql://{POSTGRES_USER}:{quote(POSTGRES_PASSWORD, safe='')}@127.0.0.1:{self.port}/{database}"

    @property
    def admin_url(self) -> str:
        """The `postgres` database, from which each test creates its own."""
        return self.url("postgres")


@dataclass(frozen=True)
class RedisServer:
    port: int

    def url(self, database: int = 0) -> str:
        return f"redis://:{quote(REDIS_PASSWORD, safe='')}@127.0.0.1:{self.port}/{database}"


def _run_as_server_user(command: list[str], check: bool = True) -> None:
    """Run a PostgreSQL command; it refuses to run as root, so as the `postgres` user then."""
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    finished = subprocess.run(command, capture_output=True, text=True)
    if check and finished.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{finished.stdout}{finished.stderr}")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    initdb, pg_ctl = _postgres_binary("initdb"), _postgres_binary("pg_ctl")
    if not (initdb and pg_ctl):
        missing_server("PostgreSQL (initdb, pg_ctl)")
    folder = Path(tempfile.mkdtemp(prefix="stockout-postgres-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    data, log, password_file = folder / "data", folder / "server.log", folder / "password"
    password_file.write_text(POSTGRES_PASSWORD + "\n")
    if os.geteuid() == 0:
        shutil.chown(password_file, "postgres", "postgres")
    port = free_port()
    _run_as_server_user(
        [
            initdb,
            "--pgdata",
            str(data),
            "--username",
            POSTGRES_USER,
            f"--pwfile={password_file}",
            "--auth-host=scram-sha-256",
            "--auth-local=peer",
            "--encoding=UTF8",
            "--no-instructions",
        ]
    )
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
    _run_as_server_user([pg_ctl, "--pgdata", str(data), "--log", str(log), "-o", options, "--wait", "start"])
    try:
        _wait_for_port(port, None, "PostgreSQL", log)
        yield PostgresServer(port=port)
    finally:
        _run_as_server_user(
            [pg_ctl, "--pgdata", str(data), "--mode", "immediate", "--wait", "stop"], check=False
        )
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    binary = shutil.which("redis-server")
    if not binary:
        missing_server("redis-server")
    folder = Path(tempfile.mkdtemp(prefix="stockout-redis-"))
    port, log = free_port(), folder / "server.log"
    process = subprocess.Popen(
        [
            binary,
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--dir",
            str(folder),
            "--save",
            "",
            "--appendonly",
            "no",
            "--requirepass",
            REDIS_PASSWORD,
            "--logfile",
            str(log),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port, process, "redis-server", log)
        yield RedisServer(port=port)
    finally:
        process.terminate()
        process.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)


_database_counter = iter(range(1, 1_000_000))


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """The URL of a new, empty database on the session's PostgreSQL server."""
    import adbc_driver_postgresql.dbapi

    name = f"shop_{os.getpid()}_{next(_database_counter)}"
    with adbc_driver_postgresql.dbapi.connect(postgres_server.admin_url, autocommit=True) as connection:
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {name}")
    return postgres_server.url(name)


@pytest.fixture
def redis_url(redis_server: RedisServer) -> Iterator[str]:
    """The URL of an emptied database on the session's Redis server."""
    import redis

    url = redis_server.url(0)
    with redis.Redis.from_url(url) as client:
        client.flushdb()
    yield url
