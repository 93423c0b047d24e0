"""No raw `user` value reaches storage or logs, pseudonyms are keyed, and sealing destroys the keys of
earlier months (in the table and on disk)."""

from __future__ import annotations

import base64
import hashlib
import logging
import time
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from queries.store import Store, StoreUnavailable
from tests.factories import ADMIN, NDJSON, Api, event, running_api


def raw_users(count: int) -> list[str]:
    return [f"raw-user-{uuid.uuid4()}" for _ in range(count)]


def encodings(raw: str) -> list[bytes]:
    """The raw id and forms it could hide in: UTF-8, hex, base64 and its distinctive uuid part alone."""
    data = raw.encode()
    distinct = raw.removeprefix("raw-user-").encode()
    return [data, data.hex().encode(), data.hex().upper().encode(), base64.b64encode(data),
            base64.urlsafe_b64encode(data), distinct, distinct.replace(b"-", b"")]


def table_dumps(store: Store) -> dict[str, bytes]:
    """Every table, view and materialized view of the test database, all columns, as TabSeparated bytes."""
    names = [row[0] for row in store.rows(
        "SELECT name FROM system.tables WHERE database = {db:String} ORDER BY name", {"db": store.database})]
    assert {"events", "pseudonym_keys", "api_keys", "event_keys", "platform_daily"} <= set(names)
    return {name: store.client.raw_query("SELECT * FROM {db:Identifier}.{t:Identifier} FORMAT TabSeparated",
                                         parameters={"db": store.database, "t": name}) for name in names}


def data_files(store: Store, table: str | None = None) -> Iterator[Path]:
    """Every file under the data directories of the database's tables (active and outdated parts)."""
    sql = "SELECT data_paths FROM system.tables WHERE database = {db:String}"
    parameters: dict[str, Any] = {"db": store.database}
    if table is not None:
        sql += " AND name = {t:String}"
        parameters["t"] = table
    for (paths,) in store.rows(sql, parameters):
        for path in paths:
            yield from (p for p in Path(path).rglob("*") if p.is_file())


@pytest.fixture
def api(store: Store, tmp_path: Path) -> Iterator[Api]:
    with running_api(store, tmp_path) as running:
        running.put_platform("zalo", "vng")
        running.put_platform("zingmp3", "vng")
        yield running


def test_no_raw_user_in_any_table_or_log(api: Api, store: Store, caplog: pytest.LogCaptureFixture,
                                         capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
                                         ) -> None:
    caplog.set_level(logging.DEBUG)  # the root logger: every logger of the process propagates here
    users = raw_users(30)
    vng = api.vendor("vng")
    rows = [event(user=user, platform=platform, ts=f"2022-{month:02d}-1{n % 10}T10:00:00+07:00")
            for n, user in enumerate(users) for platform in ("zalo", "zingmp3") for month in (1, 2, 3)]
    assert api.post_events(vng, rows[:90]).json()["accepted"] == 90
    assert api.post_events(vng, rows[90:], gzipped=True).json()["accepted"] == 90
    assert api.post_events(vng, rows, ndjson_body=True).json()["duplicates"] == 180  # a retry

    # rows that are rejected after their user was read, one per reason that can follow it
    rejected = [event(user=users[0], os="windows"), event(user=users[1], platform="nope"),
                event(user=users[2], platform="mocha"), event(user=users[3], ts="2099-01-01T00:00:00Z"),
                event(user=users[4], country="vn"), event(user=users[5], unexpected=users[5])]
    api.put_platform("mocha", "viettel")
    answer = api.post_events(vng, rejected).json()
    assert len(answer["rejected"]) == len(rejected)
    broken_line = b'{"user": "' + users[6].encode() + b'", "event_id": '
    assert api.client.post("/v1/events", content=broken_line,
                           headers={**vng, "Content-Type": NDJSON}).json()["rejected"][0]["reason"] == "malformed"

    # the store failing mid-request is logged: still no user in the log
    def unavailable(*_: Any, **__: Any) -> Any:
        raise StoreUnavailable("simulated outage")

    with monkeypatch.context() as patch:
        for name in ("insert", "raw_insert", "query"):
            if hasattr(store, name):
                patch.setattr(store, name, unavailable)
        assert api.post_events(vng, [event(user=users[7], ts="2022-03-20T10:00:00+07:00")]).status_code == 503

    sealed = api.client.post("/v1/admin/seal", json={"before": "2022-02"}, headers=ADMIN)
    assert sealed.json()["destroyed_months"] == ["2022-01"]
    late = api.post_events(vng, [event(user=users[8], ts="2022-01-20T10:00:00+07:00")]).json()
    assert [r["reason"] for r in late["rejected"]] == ["month_sealed"]

    tables = table_dumps(store)
    # the scan sees the stored rows: 180, and the one of the request that answered 503, journalled and stored
    # by the replay before the next group (its retry would have been a duplicate)
    assert tables["events"].count(b"\n") == 181
    captured = capsys.readouterr()
    logs = (caplog.text + "\n".join(r.getMessage() for r in caplog.records) + captured.out + captured.err).encode()
    assert b"store unavailable" in logs  # the scan sees the log
    files = {path: path.read_bytes() for path in data_files(store)}
    assert files
    for user in users:
        for form in encodings(user):
            for name, dump in tables.items():
                assert form not in dump, (name, form)
            assert form not in logs, form
            for path, content in files.items():
                assert form not in content, (path, form)


def test_pseudonyms_are_keyed_hashes(api: Api, store: Store) -> None:
    user = raw_users(1)[0]
    row = event(user=user)
    assert api.post_events(api.vendor("vng"), [row]).json()["accepted"] == 1
    (stored,) = store.rows("SELECT user_pseudo FROM events")[0]
    data = user.encode()
    unkeyed = [hashlib.blake2b(data, digest_size=16).digest(), hashlib.sha256(data).digest()[:16],
               hashlib.md5(data).digest(), hashlib.sha1(data).digest()[:16],  # noqa: S324 - a guess to rule out
               hashlib.blake2s(data, digest_size=16).digest()]
    assert len(stored) == 16
    assert stored not in unkeyed


def test_sealing_destroys_the_keys_of_earlier_months(api: Api, store: Store) -> None:
    vng = api.vendor("vng")
    rows = [event(user=user, platform=platform, ts=f"2022-{month:02d}-15T10:00:00+07:00")
            for user in raw_users(3) for platform in ("zalo", "zingmp3") for month in (1, 2, 3, 4)]
    assert api.post_events(vng, rows).json()["accepted"] == 24
    months = [date(2022, m, 1) for m in (1, 2, 3, 4)]
    keys = store.rows("SELECT platform, month, key FROM pseudonym_keys ORDER BY platform, month")
    assert [(p, m) for p, m, _ in keys] == [(p, m) for p in ("zalo", "zingmp3") for m in months]
    doomed = [key for _, month, key in keys if month < date(2022, 3, 1)]
    kept = [key for _, month, key in keys if month >= date(2022, 3, 1)]
    assert all(any(key in path.read_bytes() for path in data_files(store, "pseudonym_keys")) for key in doomed)

    sealed = api.client.post("/v1/admin/seal", json={"before": "2022-03"}, headers=ADMIN)
    assert sealed.status_code == 200
    assert sealed.json() == {"sealed_before": "2022-03", "requested": "2022-03",
                             "destroyed_months": ["2022-01", "2022-02"]}

    assert store.rows("SELECT count() FROM pseudonym_keys WHERE month < '2022-03-01'") == [(0,)]
    assert [(p, m) for p, m, _ in store.rows("SELECT platform, month, key FROM pseudonym_keys "
                                             "ORDER BY platform, month")] == [
        (p, m) for p in ("zalo", "zingmp3") for m in months[2:]]
    # the dropped parts leave the disk within seconds (old_parts_lifetime = 1)
    deadline = time.monotonic() + 15
    while True:
        contents = [path.read_bytes() for path in data_files(store, "pseudonym_keys")]
        left = [key for key in doomed if any(key in content for content in contents)]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    assert left == []
    assert all(any(key in content for content in contents) for key in kept)

    # events of sealed months are refused; the events already stored stay, open months go on
    answer = api.post_events(vng, [event(ts="2022-02-28T10:00:00+07:00"), event(ts="2022-03-01T00:00:00+07:00")])
    assert answer.json()["accepted"] == 1
    assert [r["reason"] for r in answer.json()["rejected"]] == ["month_sealed"]
    assert store.rows("SELECT count() FROM events") == [(25,)]


def test_sealing_again_earlier_keeps_the_later_watermark(api: Api) -> None:
    vng = api.vendor("vng")
    assert api.client.post("/v1/admin/seal", json={"before": "2022-03"}, headers=ADMIN).status_code == 200
    earlier = api.client.post("/v1/admin/seal", json={"before": "2022-01"}, headers=ADMIN)
    assert earlier.status_code == 200
    row = event(ts="2022-02-10T10:00:00+07:00")
    answer = api.post_events(vng, [row]).json()
    assert (answer["accepted"], answer["duplicates"], len(answer["rejected"])) == (0, 0, 1)
    rejection = answer["rejected"][0]
    assert (rejection["index"], rejection["event_id"], rejection["reason"]) == (0, row["event_id"], "month_sealed")
    assert rejection["detail"].startswith("ts: month 2022-02 is sealed (months before 2022-03"), rejection["detail"]
