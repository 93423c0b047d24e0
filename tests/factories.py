"""Test helpers for the ingestion API: event factories, request body builders, a running app (`Api`)
with keys and platforms, and extra fresh databases in the run's chDB directory."""

from __future__ import annotations

import gzip
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
from fastapi.testclient import TestClient

from ingest.rows import Accepted, Event, StoredRow, stored_lines
from queries.migrate import migrate
from queries.store import Store, Target
from service.app import create_app
from service.context import Services
from service.settings import Settings

ADMIN_KEY = "a" * 40
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
NDJSON = "application/x-ndjson"


def event(without: Iterable[str] = (), **fields: Any) -> dict[str, Any]:
    """A valid session event with a fresh event_id; `fields` override defaults, `without` drops fields."""
    row: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "platform": "zalo",
        "user": "user-1",
        "type": "session",
        "ts": "2022-03-15T10:00:00+07:00",
        "duration_s": 60,
        "bytes": 1_000,
        "country": "VN",
        "province": "VN-HN",
        "os": "android",
    }
    row.update(fields)
    for name in without:
        row.pop(name, None)
    return row


def stored_row(platform: str, event_id: uuid.UUID, user_hex: str, ts_ms: int, day: int, duration_s: int = 10,
               size: int = 100, kind: str = "session", country: str = "VN", province: str = "",
               os: str = "ios") -> StoredRow:
    """An accepted event in the writer's form (ingest.rows.StoredRow), as the pipeline would make it."""
    sent = Event(event_id, platform, "-", datetime.fromtimestamp(ts_ms / 1000, UTC), kind,
                 duration_s, size, country, province, os)
    (line,) = stored_lines([sent], [user_hex], [ts_ms * 1000], [day])
    return platform, event_id.int, line, date(1970, 1, 1) + timedelta(days=day), "lt_1h"


def accepted(rows: Sequence[StoredRow]) -> Accepted:
    """`rows` by column, as the writer takes them."""
    return Accepted(*(list(column) for column in zip(*rows, strict=True))) if rows else Accepted()


def ndjson(rows: Sequence[Any]) -> bytes:
    return b"".join(orjson.dumps(row) + b"\n" for row in rows)


def gzip_ndjson(rows: Sequence[Any]) -> bytes:
    return gzip.compress(ndjson(rows))


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def platform_body(vendor: str, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"name": "Test platform", "vendor": vendor, "origin": "vn", "category": "communication",
                            "kind": "app", "province": None}
    body.update(fields)
    return body


class Api:
    """A running app on a test store, seen through a TestClient, with shortcuts for the admin chores."""

    def __init__(self, client: TestClient):
        self.client = client

    @property
    def services(self) -> Services:
        ctx: Services = self.client.app.state.services  # type: ignore[attr-defined]
        return ctx

    def create_key(self, role: str, vendor: str | None = None) -> dict[str, Any]:
        body = {"role": role} if vendor is None else {"role": role, "vendor": vendor}
        response = self.client.post("/v1/keys", json=body, headers=ADMIN)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    def vendor(self, vendor: str) -> dict[str, str]:
        """Headers with a new vendor key for `vendor`."""
        return bearer(self.create_key("vendor", vendor)["key"])

    def put_platform(self, platform_id: str, vendor: str, **fields: Any) -> httpx.Response:
        response = self.client.put(f"/v1/platforms/{platform_id}", json=platform_body(vendor, **fields),
                                   headers=ADMIN)
        assert response.status_code == 200, response.text
        return response

    def post_events(self, headers: dict[str, str], rows: Sequence[Any], *, ndjson_body: bool = False,
                    gzipped: bool = False) -> httpx.Response:
        """POST rows as a JSON array (default) or NDJSON, optionally gzip-compressed."""
        body = ndjson(rows) if ndjson_body or gzipped else orjson.dumps(list(rows))
        sent = {**headers, "Content-Type": NDJSON if ndjson_body or gzipped else "application/json"}
        if gzipped:
            body = gzip.compress(body)
            sent["Content-Encoding"] = "gzip"
        return self.client.post("/v1/events", content=body, headers=sent)


@contextmanager
def running_api(store: Store, data_dir: Path, **settings: Any) -> Iterator[Api]:
    """An app on `store` with the admin key ADMIN_KEY; `settings` override other Settings fields."""
    app = create_app(Settings(data_dir=data_dir, admin_key=ADMIN_KEY, **settings), store=store)
    with TestClient(app) as client:
        yield Api(client)


@contextmanager
def fresh_store(chdb_dir: Path) -> Iterator[Store]:
    """Another migrated database in the run's chDB directory (chDB hosts one directory per process)."""
    database = f"t_{uuid.uuid4().hex[:12]}"
    opened = Store(Target("chdb", f"chdb://{chdb_dir}", database, chdb_dir))
    migrate(opened)
    try:
        yield opened
    finally:
        opened.command(f"DROP DATABASE IF EXISTS {database}")
        opened.close()


@contextmanager
def api_on_fresh_store(chdb_dir: Path, data_dir: Path, **settings: Any) -> Iterator[Api]:
    """`running_api` on a database of its own, for module-scoped fixtures shared by tests that only read answers."""
    with fresh_store(chdb_dir) as store, running_api(store, data_dir, **settings) as api:
        yield api


def scalar(store: Store, sql: str, parameters: dict[str, Any] | None = None) -> Any:
    return store.rows(sql, parameters)[0][0]
