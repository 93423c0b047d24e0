"""Whole-request behaviour of the API: accepted body formats, 400/401/403/413/415/429/503 with their
headers, API keys (created, hashed, revoked) and the platform and province registry."""

from __future__ import annotations

import csv
import gzip
import hashlib
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from ingest.limits import MAX_BODY_BYTES, MAX_DECOMPRESSED_BYTES, MAX_EVENTS_PER_REQUEST
from queries.registry import Platform
from queries.store import Store, StoreUnavailable
from tests.factories import (
    ADMIN,
    NDJSON,
    Api,
    api_on_fresh_store,
    bearer,
    event,
    gzip_ndjson,
    ndjson,
    platform_body,
    running_api,
    scalar,
)

PROVINCES_CSV = Path(__file__).resolve().parents[2] / "queries" / "reference" / "provinces.csv"


@pytest.fixture
def api(store: Store, tmp_path: Path) -> Iterator[Api]:
    with running_api(store, tmp_path) as running:
        running.put_platform("zalo", "vng")
        running.put_platform("mocha", "viettel", category="social")
        yield running


@pytest.fixture(scope="module")
def shared(chdb_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Api, dict[str, str]]]:
    """One app and a 'vng' vendor key for the tests that only read the answer."""
    with api_on_fresh_store(chdb_dir, tmp_path_factory.mktemp("requests")) as running:
        running.put_platform("zalo", "vng")
        running.put_platform("mocha", "viettel", category="social")
        yield running, running.vendor("vng")


def post_raw(api: Api, headers: dict[str, str], body: bytes | Any, content_type: str | None = "application/json",
             encoding: str | None = None) -> Any:
    sent = dict(headers)
    if content_type is not None:
        sent["Content-Type"] = content_type
    if encoding is not None:
        sent["Content-Encoding"] = encoding
    return api.client.post("/v1/events", content=body, headers=sent)


def assert_error(response: Any, status: int, words: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert words in response.json()["error"], response.json()


def stored_events(store: Store) -> int:
    return int(scalar(store, "SELECT count() FROM events"))


# -- body formats that are accepted ----------------------------------------------------------------
def test_json_array_and_ndjson_are_accepted(api: Api, vng: dict[str, str], store: Store) -> None:
    answers = [
        api.post_events(vng, [event(), event()]),
        post_raw(api, vng, orjson.dumps([event()]), "application/json; charset=utf-8"),
        api.post_events(vng, [event(), event()], ndjson_body=True),
        api.post_events(vng, [event()], gzipped=True),
        post_raw(api, vng, gzip_ndjson([event()]), "application/x-ndjson", "x-gzip"),
        post_raw(api, vng, b"\r\n".join(orjson.dumps(e) for e in [event(), event()]), "application/ndjson"),
        post_raw(api, vng, gzip.compress(orjson.dumps([event()])), "application/json", "gzip"),
        post_raw(api, vng, orjson.dumps([event()]), "application/json", "identity"),
    ]
    assert [(a.status_code, a.json()["accepted"]) for a in answers] == [
        (200, 2), (200, 1), (200, 2), (200, 1), (200, 1), (200, 2), (200, 1), (200, 1)]
    assert stored_events(store) == 11  # 2+1+2+1+1+2+1+1


def test_gzip_with_several_members_is_read_whole(api: Api, vng: dict[str, str], store: Store) -> None:
    """RFC 1952 allows a gzip stream of several members (e.g. `cat a.gz b.gz`); every member is data."""
    body = gzip_ndjson([event()]) + gzip_ndjson([event(), event()])
    response = post_raw(api, vng, body, NDJSON, "gzip")
    assert response.status_code == 200
    assert response.json() == {"accepted": 3, "duplicates": 0, "rejected": []}
    assert stored_events(store) == 3


# -- 400 -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("body", "content_type", "encoding", "words"), [
    (b"this is not gzip", NDJSON, "gzip", "not valid gzip"),
    (gzip_ndjson([event()])[:-12], NDJSON, "gzip", "not valid gzip"),
    (gzip_ndjson([event()]) + b"trailing bytes", NDJSON, "gzip", "not valid gzip"),
    (orjson.dumps(event()), "application/json", None, "must be an array"),
    (b'[{"event_id": ', "application/json", None, "not valid JSON"),
    (b"", "application/json", None, "not valid JSON"),
    (b"[]", "application/json", None, "no events"),
    (b"", NDJSON, None, "no events"),
    (b"\n\n  \n", NDJSON, None, "no events"),
], ids=["not-gzip", "truncated-gzip", "gzip-then-garbage", "json-object", "invalid-json", "empty-json",
        "empty-array", "empty-ndjson", "blank-ndjson"])
def test_unreadable_body_is_400(shared: tuple[Api, dict[str, str]], body: bytes, content_type: str,
                                encoding: str | None, words: str) -> None:
    api, vng = shared
    before = stored_events(api.services.store)
    assert_error(post_raw(api, vng, body, content_type, encoding), 400, words)
    assert stored_events(api.services.store) == before


# -- 401 / 403 -------------------------------------------------------------------------------------
@pytest.mark.parametrize("headers", [
    {}, {"Authorization": "Bearer "}, {"Authorization": f"Basic {'a' * 40}"}, {"Authorization": "a" * 40},
    {"Authorization": "Bearer vnm_not-a-key-anyone-was-given"},
], ids=["none", "empty", "basic", "no-scheme", "unknown"])
def test_missing_or_unknown_key_is_401(shared: tuple[Api, dict[str, str]], headers: dict[str, str]) -> None:
    api, _ = shared
    for response in (api.post_events(headers, [event()]), api.client.get("/v1/platforms", headers=headers)):
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["error"]


def test_revoked_key_is_401_on_next_use(api: Api) -> None:
    created = api.create_key("vendor", "vng")
    assert api.post_events(bearer(created["key"]), [event()]).status_code == 200
    assert api.client.delete(f"/v1/keys/{created['id']}", headers=ADMIN).status_code == 204
    assert_error(api.post_events(bearer(created["key"]), [event()]), 401, "unknown or revoked")


@pytest.mark.parametrize("role", ["analyst", "admin"])
def test_non_vendor_key_posting_events_is_403(api: Api, store: Store, role: str) -> None:
    headers = bearer(api.create_key(role)["key"])
    assert_error(api.post_events(headers, [event()]), 403, "role vendor")
    assert_error(api.post_events(ADMIN, [event()]), 403, "role vendor")
    assert stored_events(store) == 0


def test_vendor_key_on_admin_endpoints_is_403(api: Api, vng: dict[str, str]) -> None:
    assert_error(api.client.post("/v1/keys", json={"role": "admin"}, headers=vng), 403, "role admin")
    assert_error(api.client.put("/v1/platforms/x", json=platform_body("vng"), headers=vng), 403, "role admin")
    assert_error(api.client.delete("/v1/keys/key_0", headers=vng), 403, "role admin")
    analyst = bearer(api.create_key("analyst")["key"])
    assert_error(api.client.post("/v1/keys", json={"role": "admin"}, headers=analyst), 403, "role admin")


# -- 413 -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("as_ndjson", [False, True], ids=["json", "ndjson"])
def test_event_count_limit(shared: tuple[Api, dict[str, str]], as_ndjson: bool) -> None:
    api, vng = shared
    rows: list[Any] = [[]] * MAX_EVENTS_PER_REQUEST  # cheap rows: each one is rejected as malformed
    body = ndjson(rows) if as_ndjson else orjson.dumps(rows)
    content_type = NDJSON if as_ndjson else "application/json"
    at_limit = post_raw(api, vng, body, content_type)
    assert at_limit.status_code == 200
    assert len(at_limit.json()["rejected"]) == MAX_EVENTS_PER_REQUEST == 10_000
    over = ndjson([*rows, []]) if as_ndjson else orjson.dumps([*rows, []])
    assert_error(post_raw(api, vng, over, content_type), 413, "10001 events in one request; the limit is 10000")


def test_body_size_limit(api: Api, vng: dict[str, str], store: Store) -> None:
    one = orjson.dumps(event())
    exactly = b"[" + one + b" " * (MAX_BODY_BYTES - len(one) - 2) + b"]"
    assert len(exactly) == MAX_BODY_BYTES == 5 * 1024 * 1024
    answer = post_raw(api, vng, exactly)
    assert answer.status_code == 200
    assert answer.json()["accepted"] == 1
    over = b"[" + orjson.dumps(event()) + b" " * (MAX_BODY_BYTES - len(one) - 1) + b"]"
    assert_error(post_raw(api, vng, over), 413, "limit")
    assert stored_events(store) == 1


def test_streamed_body_over_the_limit_is_413(shared: tuple[Api, dict[str, str]]) -> None:
    api, vng = shared
    def chunks() -> Iterator[bytes]:  # no Content-Length: the server counts as it reads
        yield b"[" + orjson.dumps(event())
        for _ in range(6):
            yield b" " * (1024 * 1024)
        yield b"]"

    assert_error(post_raw(api, vng, chunks()), 413, "limit")


def test_gzip_bomb_is_413_and_quick(api: Api, vng: dict[str, str], store: Store) -> None:
    bomb = gzip.compress(b"\n" * (60 * 1024 * 1024), compresslevel=9)
    assert len(bomb) < MAX_BODY_BYTES  # small on the wire, 60 MiB > MAX_DECOMPRESSED_BYTES inflated
    started = time.monotonic()
    response = post_raw(api, vng, bomb, NDJSON, "gzip")
    elapsed = time.monotonic() - started
    assert_error(response, 413, f"inflates past {MAX_DECOMPRESSED_BYTES} bytes")
    assert elapsed < 5, elapsed
    assert stored_events(store) == 0


MEMORY_PROBE = """
import gzip, resource, sys
from ingest.decode import RequestRejected, ndjson_lines, read
from ingest.limits import MAX_DECOMPRESSED_BYTES, MAX_EVENTS_PER_REQUEST
size = MAX_DECOMPRESSED_BYTES // MAX_EVENTS_PER_REQUEST
line, count = {
    "legit": (b'{"user": "' + b"u" * (size - 13) + b'"}\\n', MAX_EVENTS_PER_REQUEST),  # 10,000 lines, ~39 MiB
    "blank": (b"\\n", MAX_DECOMPRESSED_BYTES),  # 52 million blank lines: no events
    "tiny": (b"[]\\n", MAX_DECOMPRESSED_BYTES // 3),  # 17 million one-row lines: far too many events
}[sys.argv[1]]
body = gzip.compress(line * count, 1)
limit = 300 * 1024 * 1024
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
try:
    print("rows", len(ndjson_lines(read(body, "application/x-ndjson", "gzip")[1])))
except RequestRejected as exc:
    print(exc.status)
"""


@pytest.mark.parametrize(("payload", "outcome"), [("legit", "rows 10000"), ("blank", "400"), ("tiny", "413")])
def test_decoding_stays_within_bounded_memory(payload: str, outcome: str) -> None:
    """A body within the limits (about 50 KB of gzip) must not cost gigabytes to refuse: with 300 MiB of
    address space a maximal legitimate request decodes, and bodies of millions of lines are refused."""
    probe = subprocess.run([sys.executable, "-c", MEMORY_PROBE, payload], capture_output=True, text=True,
                           timeout=120, cwd=Path(__file__).resolve().parents[2])
    assert probe.stdout.strip() == outcome, probe.stderr[-500:]


# -- 415 -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("content_type", "encoding", "words"), [
    ("text/plain", None, "Content-Type"),
    ("application/x-www-form-urlencoded", None, "Content-Type"),
    (None, None, "Content-Type"),
    ("application/json", "br", "Content-Encoding"),
    ("application/x-ndjson", "deflate", "Content-Encoding"),
], ids=["text-plain", "form", "no-content-type", "brotli", "deflate"])
def test_unsupported_media_is_415(shared: tuple[Api, dict[str, str]], content_type: str | None, encoding: str | None,
                                  words: str) -> None:
    api, vng = shared
    assert_error(post_raw(api, vng, orjson.dumps([event()]), content_type, encoding), 415, words)


# -- 429 -------------------------------------------------------------------------------------------
def test_rate_limit_is_429_with_retry_after(store: Store, tmp_path: Path) -> None:
    with running_api(store, tmp_path, rate_limit_rps=1, rate_limit_burst=2) as api:
        # set up through the services, so that the admin key's own bucket plays no part
        api.services.registry.put_platform(Platform("zalo", "Zalo", "vng", "vn", "communication", "app", None))
        first_key = bearer(api.services.keys.create("vendor", "vng")[1])
        other_key = bearer(api.services.keys.create("vendor", "vng")[1])
        statuses = [api.post_events(first_key, [event()]).status_code for _ in range(2)]
        limited = api.post_events(first_key, [event()])
        assert statuses == [200, 200]
        assert_error(limited, 429, "rate limit")
        # burst 2 spent; at 1 request/s the next token is at most 1 s away, so the answer rounds up to 1
        assert limited.headers["retry-after"] == "1"
        assert api.post_events(other_key, [event()]).status_code == 200  # buckets are per key
        time.sleep(1.05)
        assert api.post_events(first_key, [event()]).status_code == 200
        assert stored_events(store) == 4


# -- 503 -------------------------------------------------------------------------------------------
def _unavailable(*_: Any, **__: Any) -> Any:
    raise StoreUnavailable("ClickHouse is unreachable (simulated)")


WRITE_METHODS = ("insert", "raw_insert", "command")


@pytest.mark.parametrize("broken", [WRITE_METHODS, (*WRITE_METHODS, "query")], ids=["writes-fail", "all-fails"])
def test_store_unavailable_is_503_and_counts_each_event_once(api: Api, vng: dict[str, str], store: Store,
                                                     monkeypatch: pytest.MonkeyPatch, broken: tuple[str, ...]) -> None:
    # a first event creates the month's pseudonym key, so that the failure below happens in the writer
    assert api.post_events(vng, [event(duration_s=1)]).json()["accepted"] == 1
    rows = [event(duration_s=10), event(duration_s=20), event(duration_s=30)]
    with monkeypatch.context() as patch:
        for name in broken:
            if hasattr(store, name):
                patch.setattr(store, name, _unavailable)
        response = api.post_events(vng, rows)
        assert_error(response, 503, "unavailable")
        assert response.headers["retry-after"] == "5"
    assert store.rows("SELECT count(), sum(duration_s) FROM events") == [(1, 1)]
    # the failed request was journalled: its block goes in again (same token) before the retry's group, so the
    # retry finds its events stored, once each
    assert api.post_events(vng, rows).json() == {"accepted": 0, "duplicates": 3, "rejected": []}
    assert store.rows("SELECT count(), sum(duration_s) FROM events") == [(4, 61)]


# -- keys ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("body", "vendor"), [
    ({"role": "vendor", "vendor": "vng"}, "vng"), ({"role": "analyst"}, None), ({"role": "admin"}, None),
], ids=["vendor", "analyst", "admin"])
def test_create_key(api: Api, store: Store, body: dict[str, str], vendor: str | None) -> None:
    response = api.client.post("/v1/keys", json=body, headers=ADMIN)
    assert response.status_code == 201
    created = response.json()
    assert set(created) == {"id", "key", "role", "vendor"}
    assert (created["role"], created["vendor"]) == (body["role"], vendor)
    assert len(created["key"]) >= 32
    stored = store.rows("SELECT key_hash, toString(role), vendor FROM api_keys WHERE id = {id:String}",
                        {"id": created["id"]})
    assert len(stored) == 1
    key_hash, role, stored_vendor = stored[0]
    key_hash = key_hash.decode() if isinstance(key_hash, bytes) else key_hash
    assert re.fullmatch(r"[0-9a-f]{64}", key_hash)
    assert key_hash == hashlib.sha256(created["key"].encode()).hexdigest()
    assert (role, stored_vendor) == (body["role"], vendor or "")
    whole_table = store.client.raw_query("SELECT * FROM api_keys FORMAT TabSeparated")
    assert created["key"].encode() not in whole_table
    # the new key works for its role
    headers = bearer(created["key"])
    assert api.client.get("/v1/platforms", headers=headers).status_code == 200
    expected_post = 200 if body["role"] == "vendor" else 403
    assert api.post_events(headers, [event()]).status_code == expected_post


@pytest.mark.parametrize(("body", "field"), [
    ({"role": "vendor"}, "vendor"),
    ({"role": "vendor", "vendor": ""}, "vendor"),
    ({"role": "vendor", "vendor": "VNG"}, "vendor"),
    ({"role": "analyst", "vendor": "vng"}, "vendor"),
    ({"role": "root"}, "role"),
    ({}, "role"),
    ({"role": "admin", "scope": "all"}, "scope"),
], ids=["vendor-missing", "vendor-empty", "vendor-uppercase", "analyst-with-vendor", "unknown-role", "no-role",
        "extra-field"])
def test_invalid_key_request_is_422_naming_the_field(shared: tuple[Api, dict[str, str]], body: dict[str, str],
                                                     field: str) -> None:
    api, _ = shared
    response = api.client.post("/v1/keys", json=body, headers=ADMIN)
    assert response.status_code == 422
    assert field in response.json()["error"], response.json()


def test_revoke_key(api: Api) -> None:
    created = api.create_key("analyst")
    assert api.client.get("/v1/platforms", headers=bearer(created["key"])).status_code == 200
    revoked = api.client.delete(f"/v1/keys/{created['id']}", headers=ADMIN)
    assert revoked.status_code == 204
    assert revoked.content == b""
    assert api.client.get("/v1/platforms", headers=bearer(created["key"])).status_code == 401
    assert_error(api.client.delete(f"/v1/keys/{created['id']}", headers=ADMIN), 404, created["id"])
    assert_error(api.client.delete("/v1/keys/key_doesnotexist", headers=ADMIN), 404, "key_doesnotexist")


# -- platforms -------------------------------------------------------------------------------------
def test_put_and_list_platforms(api: Api, vng: dict[str, str]) -> None:
    body = platform_body("hue", name="Hue-S", origin="vn", category="public_services", kind="app",
                         province="VN-26")
    response = api.client.put("/v1/platforms/hue-s", json=body, headers=ADMIN)
    assert response.status_code == 200
    expected = {"platform_id": "hue-s", **body}
    assert response.json() == expected
    for headers in (ADMIN, vng, bearer(api.create_key("analyst")["key"])):
        listed = api.client.get("/v1/platforms", headers=headers)
        assert listed.status_code == 200
        assert {p["platform_id"]: p for p in listed.json()["items"]}["hue-s"] == expected
        assert sorted(p["platform_id"] for p in listed.json()["items"]) == ["hue-s", "mocha", "zalo"]


def test_platform_moved_to_another_vendor(api: Api, vng: dict[str, str]) -> None:
    api.put_platform("zalo", "vng-corp")
    answer = api.post_events(vng, [event()]).json()
    assert [r["reason"] for r in answer["rejected"]] == ["platform_not_allowed"]


@pytest.mark.parametrize("platform_id", ["Zalo", "-zalo", "za lo", "z" * 65, "zalo.vn"])
def test_platform_id_pattern(shared: tuple[Api, dict[str, str]], platform_id: str) -> None:
    api, _ = shared
    response = api.client.put(f"/v1/platforms/{platform_id}", json=platform_body("vng"), headers=ADMIN)
    assert_error(response, 422, "platform_id")


@pytest.mark.parametrize(("fields", "field"), [
    ({"category": "banking"}, "category"),
    ({"origin": "us"}, "origin"),
    ({"kind": "desktop"}, "kind"),
    ({"vendor": "VNG Corp"}, "vendor"),
    ({"name": ""}, "name"),
    ({"province": "VN-XX"}, "province"),
    ({"province": 26}, "province"),
    ({"homepage": "https://zalo.me"}, "homepage"),
], ids=["category", "origin", "kind", "vendor", "name", "province-unknown", "province-number", "extra"])
def test_invalid_platform_is_422_naming_the_field(shared: tuple[Api, dict[str, str]], fields: dict[str, Any],
                                                  field: str) -> None:
    api, _ = shared
    response = api.client.put("/v1/platforms/newapp", json={**platform_body("vng"), **fields}, headers=ADMIN)
    assert_error(response, 422, field)
    listed = api.client.get("/v1/platforms", headers=ADMIN).json()["items"]
    assert "newapp" not in {p["platform_id"] for p in listed}


def test_categories_are_listed_with_vietnamese_labels(shared: tuple[Api, dict[str, str]]) -> None:
    api, vng = shared
    items = api.client.get("/v1/categories", headers=vng).json()["items"]
    ids = [item["id"] for item in items]
    assert set(ids) >= {"communication", "social", "mobility", "delivery", "shopping", "news", "entertainment",
                        "health", "travel", "education", "payments", "public_services", "games", "other"}
    assert all(item["label_vi"] and item["label_en"] for item in items)


# -- provinces -------------------------------------------------------------------------------------
def test_shipped_provinces(shared: tuple[Api, dict[str, str]]) -> None:
    api, vng = shared
    with PROVINCES_CSV.open(encoding="utf-8", newline="") as handle:
        shipped = {row["code"]: row["name"] for row in csv.DictReader(handle)}
    assert len(shipped) == 63
    listed = api.client.get("/v1/provinces", headers=vng)
    assert listed.status_code == 200
    assert {p["code"]: p["name"] for p in listed.json()["items"]} == shipped
    assert {"VN-HN", "VN-SG", "VN-HP", "VN-DN", "VN-26"} <= set(shipped)


def test_admin_adds_a_province_that_events_can_use(api: Api, vng: dict[str, str], store: Store) -> None:
    before = api.post_events(vng, [event(province="VN-99")]).json()
    assert [r["reason"] for r in before["rejected"]] == ["invalid_field"]

    body = {"name": "Tỉnh thử nghiệm", "smartphone_users": 1000}
    assert api.client.put("/v1/reference/provinces/VN-99", json=body, headers=vng).status_code == 403
    assert_error(api.client.put("/v1/reference/provinces/VN-9", json=body, headers=ADMIN), 422, "code")
    added = api.client.put("/v1/reference/provinces/VN-99", json=body, headers=ADMIN)
    assert added.status_code == 200
    assert added.json() == {"code": "VN-99", **body}

    listed = api.client.get("/v1/provinces", headers=vng).json()["items"]
    assert len(listed) == 64
    assert {"code": "VN-99", **body} in listed
    after = api.post_events(vng, [event(province="VN-99")]).json()
    assert after == {"accepted": 1, "duplicates": 0, "rejected": []}
    assert store.rows("SELECT province FROM events") == [("VN-99",)]
    platform = api.client.put("/v1/platforms/tinh", json=platform_body("vng", province="VN-99"), headers=ADMIN)
    assert platform.status_code == 200


def test_province_smartphone_users_beyond_any_population_is_422(store: Store, tmp_path: Path) -> None:
    """Found by schemathesis: 2**64 overflowed the UInt64 column and answered 500."""
    with running_api(store, tmp_path) as api:
        response = api.client.put("/v1/reference/provinces/VN-99", headers=ADMIN,
                                  json={"name": "Tỉnh mới", "smartphone_users": 2**64})
        assert_error(response, 422, "smartphone_users")
        accepted = api.client.put("/v1/reference/provinces/VN-99", headers=ADMIN,
                                  json={"name": "Tỉnh mới", "smartphone_users": 10**10})
        assert accepted.status_code == 200
