"""Connections to the shop's source systems, by URL (DESIGN.md §2).

One place knows the URL schemes, opens connections (SQLite read-only, PostgreSQL through
ADBC, Redis) with a bounded retry, and describes a source without its credentials. A URL
carries the password, so nothing here prints, logs or chains an exception that holds it:
connection failures are re-raised as a SourceError built from a redacted message, outside
the `except` block, so no driver exception hangs off it as `__context__`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote, unquote, urlsplit

import adbc_driver_manager
import adbc_driver_postgresql.dbapi
import adbc_driver_sqlite.dbapi
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

TRANSACTION_SCHEMES = ("sqlite", "postgresql", "postgres")
INVENTORY_SCHEMES = ("sqlite", "redis", "rediss")
DEFAULT_PORTS = {"postgresql": 5432, "postgres": 5432, "redis": 6379, "rediss": 6379}

CONNECT_ATTEMPTS = 3
RETRY_DELAYS_S = (0.5, 1.5)  # waited after the first and the second failed attempt
CONNECT_TIMEOUT_S = 5

Connection = TypeVar("Connection")


class SourceError(RuntimeError):
    """A source system cannot be read; the message says which one and what to do."""


def url_scheme(url: str, supported: tuple[str, ...], variable: str) -> str:
    """The scheme of a source URL, refused unless `supported` (the message names no credentials)."""
    scheme = url.split(":", 1)[0].lower() if ":" in url else url
    if scheme not in supported:
        forms = ", ".join(f"{name}://" for name in supported)
        raise SourceError(f"unsupported source URL scheme {scheme!r} in {variable}: use one of {forms}")
    return scheme


def sqlite_path(url: str) -> Path:
    """The file of a `sqlite:///relative` or `sqlite:////absolute` URL."""
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        url_scheme(url, ("sqlite",), "STOCKOUT_TRANSACTIONS_URL / STOCKOUT_INVENTORY_URL")
        raise SourceError("a SQLite source URL has the form sqlite:///<path>")
    return Path(url[len(prefix) :])


def server_address(url: str) -> str:
    """`host:port` of a server URL, the name a failure message gives the server."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        raise SourceError(f"the port in the {parts.scheme} URL is not a number") from None
    return f"{parts.hostname or 'localhost'}:{port or DEFAULT_PORTS.get(parts.scheme, '')}"


def describe(url: str) -> str:
    """A source as messages name it: the SQLite file, or server and database without credentials."""
    if url.startswith("sqlite:"):
        return str(sqlite_path(url))
    parts = urlsplit(url)
    database = parts.path.lstrip("/")
    return f"{parts.scheme}://{server_address(url)}" + (f"/{database}" if database else "")


def redact(text: str, url: str) -> str:
    """`text` with the URL and its password (raw and decoded) blanked out."""
    password = urlsplit(url).password
    for secret in (url, password, unquote(password) if password else None):
        if secret:
            text = text.replace(secret, "***")
    return text


def connect_with_retries(
    open_connection: Callable[[], Connection],
    url: str,
    what: str,
    variable: str,
    failures: tuple[type[BaseException], ...],
) -> Connection:
    """`open_connection()`, tried CONNECT_ATTEMPTS times with a short pause in between.

    On the last failure raise a SourceError naming the server (host:port) and the driver's
    reason with the password blanked out. It is raised after the `except` block, so the
    driver's exception, whose text may hold the URL, is not chained to it.
    """
    reason = ""
    for attempt in range(CONNECT_ATTEMPTS):
        try:
            return open_connection()
        except failures as error:
            reason = " ".join(redact(str(error), url).split()).rstrip(".")
        if attempt < len(RETRY_DELAYS_S):
            time.sleep(RETRY_DELAYS_S[attempt])
    raise SourceError(
        f"cannot connect to the {what} at {server_address(url)} after {CONNECT_ATTEMPTS} attempts "
        f"({reason}); check that the server is running and reachable and that {variable} names "
        "the right host, port, database and credentials"
    )


def connect_sqlite_read_only(url: str, what: str) -> adbc_driver_manager.dbapi.Connection:
    """An ADBC connection to a SQLite source file, opened read-only."""
    path = sqlite_path(url)
    if not path.exists():
        raise SourceError(
            f"{what} not found at {path}: run `stockout simulate` to create a demo shop, "
            "or point the URL variable at the real one"
        )
    return adbc_driver_sqlite.dbapi.connect(f"file:{quote(str(path.resolve()))}?mode=ro", autocommit=True)


def _with_connect_timeout(url: str) -> str:
    if "connect_timeout=" in url:
        return url
    return f"{url}{'&' if '?' in url else '?'}connect_timeout={CONNECT_TIMEOUT_S}"


def connect_postgres(
    url: str, what: str, variable: str, autocommit: bool
) -> adbc_driver_manager.dbapi.Connection:
    """An ADBC connection to PostgreSQL (libpq URL), with a bounded retry."""
    return connect_with_retries(
        lambda: adbc_driver_postgresql.dbapi.connect(_with_connect_timeout(url), autocommit=autocommit),
        url,
        what,
        variable,
        (adbc_driver_manager.Error,),
    )


def connect_redis(url: str, what: str, variable: str) -> redis.Redis:
    """A Redis client that answered PING, with a bounded retry (ours: redis-py's own is off)."""

    def open_client() -> redis.Redis:
        client = redis.Redis.from_url(
            url,
            socket_connect_timeout=CONNECT_TIMEOUT_S,
            socket_timeout=60,
            retry=Retry(NoBackoff(), 0),
        )
        try:
            client.ping()
        except BaseException:
            client.close()
            raise
        return client

    return connect_with_retries(open_client, url, what, variable, (redis.RedisError, OSError))
