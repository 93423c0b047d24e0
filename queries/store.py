"""One ClickHouse target, embedded chDB or a server over HTTP(S), behind clickhouse-connect.

Every read and write of vnmeter goes through a `Store`. The same SQL runs on both engines; the
only engine-specific code here is opening the connection and guarding a chDB directory so that a
second process gets a clear message instead of the engine's own error.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import stat
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import clickhouse_connect
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError
from clickhouse_connect.driver.query import QueryResult

log = logging.getLogger("vnmeter")
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
LOCK_FILE = "vnmeter.lock"

# chDB hosts one directory per process; stores of this process on it share one lock (path -> [fd, users]).
_DIRECTORY_LOCKS: dict[Path, list[int]] = {}
_DIRECTORY_LOCKS_GUARD = threading.Lock()


class StoreError(Exception):
    """The store cannot be used as configured; the message says why and what to do."""


class StoreLocked(StoreError):
    """Another process holds the chDB data directory."""


class StoreUnavailable(StoreError):
    """The ClickHouse server cannot be reached right now; retrying later may succeed."""


@dataclass(frozen=True)
class Target:
    """Where the data lives: `engine` is 'chdb' or 'http'."""

    engine: str
    dsn: str
    database: str
    path: Path | None = None

    @property
    def is_embedded(self) -> bool:
        return self.engine == "chdb"


def resolve_target(url: str | None, data_dir: Path, database: str = "vnmeter") -> Target:
    """Turn the configured URL (or none: chDB under the data directory) into a `Target`."""
    if not url:
        path = (data_dir / "clickhouse").resolve()
        return Target("chdb", f"chdb://{path}", _identifier(database), path)
    parsed = urlparse(url)
    if parsed.scheme == "chdb":
        raw = parsed.path if not parsed.netloc else f"/{parsed.netloc}{parsed.path}"
        if not raw.startswith("/"):
            raise StoreError(f"VNMETER_CLICKHOUSE_URL: a chdb URL needs an absolute path, got {url!r}")
        path = Path(raw).resolve()
        return Target("chdb", f"chdb://{path}", _identifier(database), path)
    if parsed.scheme in {"http", "https"}:
        if not parsed.hostname:
            raise StoreError("VNMETER_CLICKHOUSE_URL: no host in the http(s) URL")
        db = parsed.path.strip("/") or database
        return Target("http", url, _identifier(db))
    raise StoreError(
        f"VNMETER_CLICKHOUSE_URL: unsupported scheme {parsed.scheme!r}; use chdb:///abs/path or "
        "http(s)://user:password@host:8123/database"
    )


def _identifier(name: str) -> str:
    if not IDENTIFIER.fullmatch(name):
        raise StoreError(f"database name {name!r} must match {IDENTIFIER.pattern}")
    return name


def private_directory(path: Path) -> Path:
    """`path` as a directory only its owner may enter (0700): created so, or narrowed when it exists with wider
    permissions. The chDB directory holds the pseudonym keys, the data directory the admin key; what is created
    inside takes the process umask (`vnmeter` sets 077)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        try:
            path.chmod(0o700)
        except PermissionError:  # e.g. a volume mount point owned by root: what vnmeter creates in it is private
            log.warning("%s is mode %o and belongs to another user; vnmeter cannot make it 0700", path, mode)
    return path


class IntArray:
    """A bound `Array(Int*)`/`Array(UInt*)` parameter value rendered in one pass.

    clickhouse-connect formats a list parameter element by element in Python (about 2 us per element);
    this renders the integers with one join. Values may also be decimal text rendered already (one value, or
    several joined by commas). It is still sent as a parameter value, which the server parses as the
    declared array type: text that is not such a list fails the query, it cannot change it."""

    def __init__(self, values: Iterable[int | str]):
        self.text = "[" + ",".join(map(str, values)) + "]"

    def __str__(self) -> str:
        return self.text


class Store:
    """A connection target plus a database; hands each thread its own clickhouse-connect client."""

    def __init__(self, target: Target, settings: dict[str, Any] | None = None):
        self.target = target
        self.database = target.database
        self._settings = settings or {}
        self._local = threading.local()
        self._clients: list[Client] = []
        self._clients_lock = threading.Lock()
        self._holds_lock = False
        if target.is_embedded:
            self._lock_directory()
        self._bootstrap()

    # -- opening -------------------------------------------------------------------------------
    def _lock_directory(self) -> None:
        assert self.target.path is not None
        directory = self.target.path
        with _DIRECTORY_LOCKS_GUARD:
            held = _DIRECTORY_LOCKS.get(directory)
            if held is not None:
                held[1] += 1
                self._holds_lock = True
                return
            private_directory(directory)
            fd = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
                os.close(fd)
                raise StoreLocked(
                    f"the chDB data directory {directory} is in use by another vnmeter process (pid {holder}); "
                    "chDB allows one process per directory. Stop that process, talk to it over HTTP, or set "
                    "VNMETER_DATA_DIR / VNMETER_CLICKHOUSE_URL to another directory."
                ) from None
            os.ftruncate(fd, 0)
            os.write(fd, str(os.getpid()).encode())
            _DIRECTORY_LOCKS[directory] = [fd, 1]
        self._holds_lock = True

    def _unlock_directory(self) -> None:
        if not getattr(self, "_holds_lock", False) or self.target.path is None:
            return
        self._holds_lock = False
        with _DIRECTORY_LOCKS_GUARD:
            held = _DIRECTORY_LOCKS[self.target.path]
            held[1] -= 1
            if held[1] == 0:
                fcntl.flock(held[0], fcntl.LOCK_UN)
                os.close(held[0])
                del _DIRECTORY_LOCKS[self.target.path]

    def _connect(self, database: str | None) -> Client:
        try:
            if self.target.is_embedded:
                return clickhouse_connect.get_client(dsn=self.target.dsn, database=database, settings=self._settings)
            return clickhouse_connect.get_client(
                dsn=self.target.dsn, database=database or "default", settings=self._settings,
                connect_timeout=5, send_receive_timeout=60,
            )
        except OperationalError as exc:
            raise StoreUnavailable(f"ClickHouse at {self.describe()} is unreachable: {exc}") from exc
        except DatabaseError as exc:
            raise StoreError(f"cannot open ClickHouse at {self.describe()}: {exc}") from exc

    def _bootstrap(self) -> None:
        bootstrap = self._connect(None)
        try:
            bootstrap.command(f"CREATE DATABASE IF NOT EXISTS {self.database}")
        except OperationalError as exc:
            raise StoreUnavailable(f"ClickHouse at {self.describe()} is unreachable: {exc}") from exc
        finally:
            bootstrap.close()

    def describe(self) -> str:
        """Where the store is, without credentials."""
        if self.target.is_embedded:
            return f"chdb:{self.target.path} (database {self.database})"
        parsed = urlparse(self.target.dsn)
        return f"{parsed.scheme}://{parsed.hostname}:{parsed.port or 8123} (database {self.database})"

    # -- use -----------------------------------------------------------------------------------
    @property
    def client(self) -> Client:
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._connect(self.database)
            self._local.client = client
            with self._clients_lock:
                self._clients.append(client)
        return client

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except OperationalError as exc:
            raise StoreUnavailable(f"ClickHouse at {self.describe()} is unavailable: {exc}") from exc

    def query(self, sql: str, parameters: dict[str, Any] | None = None, settings: dict[str, Any] | None = None,
              column_formats: dict[str, str | dict[str, str]] | None = None) -> QueryResult:
        """`column_formats` as in clickhouse-connect, e.g. {"data": "bytes"} to read a String column as bytes."""
        with self._errors():
            return self.client.query(sql, parameters=parameters, settings=settings, column_formats=column_formats)

    def raw_query(self, sql: str, parameters: dict[str, Any] | None = None, fmt: str = "RowBinary") -> bytes:
        """The answer of `sql` as bytes in ClickHouse output format `fmt` (no Python object per value)."""
        with self._errors():
            return self.client.raw_query(sql, parameters=parameters, fmt=fmt)

    def rows(self, sql: str, parameters: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self.query(sql, parameters).result_rows]

    def command(self, sql: str, parameters: dict[str, Any] | None = None, settings: dict[str, Any] | None = None
                ) -> Any:
        with self._errors():
            return self.client.command(sql, parameters=parameters, settings=settings)

    def insert(self, table: str, rows: Sequence[Sequence[Any]], columns: Sequence[str],
               settings: dict[str, Any] | None = None) -> None:
        if not rows:
            return
        with self._errors():
            self.client.insert(table, rows, column_names=list(columns), settings=settings)

    def raw_insert(self, table: str, columns: Sequence[str], data: bytes, fmt: str,
                   settings: dict[str, Any] | None = None) -> None:
        """Insert pre-serialised rows (`data` in ClickHouse input format `fmt`)."""
        with self._errors():
            self.client.raw_insert(table, list(columns), insert_block=data, fmt=fmt, settings=settings)

    def ping(self) -> bool:
        try:
            return self.client.command("SELECT 1") == 1
        except Exception:
            return False

    def close(self) -> None:
        with self._clients_lock:
            for client in self._clients:
                with suppress(Exception):  # closing is best effort
                    client.close()
            self._clients.clear()
        self._local = threading.local()
        self._unlock_directory()


def open_store(url: str | None, data_dir: Path, database: str = "vnmeter",
               settings: dict[str, Any] | None = None) -> Store:
    """Open (and create if needed) the configured store's database."""
    return Store(resolve_target(url, data_dir, database), settings)
