"""Hostile input: property-based fuzzing of the endpoints, and one test per kind of nasty request.

Every answer must be sane: no 5xx, no 'Traceback' anywhere in it, and every 4xx a JSON object whose
"error" is a string naming the problem. Explicit tests cover gzip bombs, deeply nested JSON, huge
strings, invalid UTF-8, wrong content types, NUL bytes, SQL fragments in every string field and
path parameter (stored verbatim as data, never executed), and a slow client that trickles its body
for longer than the server's time limit while other requests go through.
"""

from __future__ import annotations

import gzip
import socket
import threading
import time
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import orjson
import pytest
import uvicorn
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import service.limits
from ingest.limits import MAX_BODY_BYTES, MAX_DECOMPRESSED_BYTES
from ingest.reasons import Reason
from ingest.validate import FIELDS
from queries.store import Store
from service.app import create_app
from service.settings import Settings
from tests.factories import ADMIN, ADMIN_KEY, bearer, event, fresh_store, platform_body
from tests.processes import free_port

REASONS = {str(reason) for reason in Reason}
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SQL_FRAGMENTS = ["'; DROP TABLE events; --", "\\' OR 1=1", "{p:String}", "\" OR \"\"=\"",
                 "1); DELETE FROM api_keys; --", "`events`", "$1", "%s", "' UNION SELECT key FROM pseudonym_keys --"]
CHECKED: list[int] = []  # status of every answer checked by assert_sane, summarised at the end (pytest -s)
TABLES_THAT_MUST_SURVIVE = ("events", "event_keys", "api_keys", "platforms", "provinces", "pseudonym_keys",
                            "platform_daily", "platform_monthly")


@dataclass
class Api:
    client: TestClient
    store: Store
    vendor: dict[str, str]
    analyst: dict[str, str]


@pytest.fixture(scope="module")
def api(chdb_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with fresh_store(chdb_dir) as store:
        app = create_app(Settings(data_dir=tmp_path_factory.mktemp("hostile"), admin_key=ADMIN_KEY,
                                  rate_limit_rps=100_000, rate_limit_burst=1_000_000), store=store)
        with TestClient(app, raise_server_exceptions=False) as client:
            vendor = client.post("/v1/keys", json={"role": "vendor", "vendor": "hv"}, headers=ADMIN).json()["key"]
            analyst = client.post("/v1/keys", json={"role": "analyst"}, headers=ADMIN).json()["key"]
            assert client.put("/v1/platforms/hp", json=platform_body("hv"), headers=ADMIN).status_code == 200
            yield Api(client, store, bearer(vendor), bearer(analyst))
    server_errors = sum(status >= 500 for status in CHECKED)
    print(f"\nhostile requests checked: {len(CHECKED)}; 5xx: {server_errors}")


def assert_sane(response: httpx.Response) -> None:
    """No server error, no traceback, and a 4xx that names its problem in JSON."""
    where = f"{response.request.method} {response.request.url.path}"
    CHECKED.append(response.status_code)
    assert response.status_code < 500, f"{where}: {response.status_code} {response.text[:500]}"
    assert "Traceback" not in response.text, f"{where}: {response.text[:500]}"
    if 400 <= response.status_code < 500:
        try:
            body = response.json()
        except ValueError:
            raise AssertionError(f"{where}: {response.status_code} answer is not JSON: {response.text[:300]}") from None
        assert isinstance(body, dict), f"{where}: {body!r}"
        assert isinstance(body.get("error"), str) and body["error"].strip(), \
            f"{where}: {response.status_code} without an 'error' string: {response.text[:300]}"


def assert_rows_answered(response: httpx.Response, rows: int) -> dict[str, Any]:
    """A 200 from POST /v1/events accounts for every row, each rejection with a closed-set reason."""
    assert response.status_code == 200, response.text[:500]
    answer: dict[str, Any] = response.json()
    assert answer["accepted"] + answer["duplicates"] + len(answer["rejected"]) == rows
    for rejection in answer["rejected"]:
        assert rejection["reason"] in REASONS
        assert isinstance(rejection["detail"], str) and rejection["detail"]
    return answer


def post_events(api: Api, body: bytes, content_type: str = "application/json",
                encoding: str | None = None) -> httpx.Response:
    headers = {**api.vendor, "Content-Type": content_type}
    if encoding:
        headers["Content-Encoding"] = encoding
    return api.client.post("/v1/events", content=body, headers=headers)


def tables_intact(store: Store) -> None:
    names = {row[0] for row in store.rows("SELECT name FROM system.tables WHERE database = {db:String}",
                                          {"db": store.database})}
    assert set(TABLES_THAT_MUST_SURVIVE) <= names
    for table in TABLES_THAT_MUST_SURVIVE:
        store.rows(f"SELECT count() FROM {table}")
    assert store.rows("SELECT count() FROM api_keys")[0][0] >= 2


# -- property-based fuzzing ------------------------------------------------------------------------
json_scalars = st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**64 - 1) | \
    st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=50)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=12), inner, max_size=4), max_leaves=12)
field_values = json_values | st.sampled_from(["hp", "session", "install", "VN", "VN-HN", "android",
                                              "2022-03-15T10:00:00+07:00", str(uuid.UUID(int=7)), *SQL_FRAGMENTS])
hostile_rows = st.dictionaries(st.sampled_from(sorted(FIELDS)) | st.text(max_size=10), field_values, max_size=12)
header_text = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
                      max_size=60)


@FUZZ
@given(body=json_values)
def test_events_take_any_json_value(api: Api, body: Any) -> None:
    response = post_events(api, orjson.dumps(body))
    assert_sane(response)
    if isinstance(body, list) and body:
        assert_rows_answered(response, len(body))
    else:
        assert response.status_code == 400


@FUZZ
@given(rows=st.lists(hostile_rows, min_size=1, max_size=5), as_ndjson=st.booleans(), gzipped=st.booleans())
def test_events_rows_with_any_field_values(api: Api, rows: list[dict[str, Any]], as_ndjson: bool,
                                           gzipped: bool) -> None:
    body = b"".join(orjson.dumps(r) + b"\n" for r in rows) if as_ndjson else orjson.dumps(rows)
    response = post_events(api, gzip.compress(body) if gzipped else body,
                           "application/x-ndjson" if as_ndjson else "application/json", "gzip" if gzipped else None)
    assert_sane(response)
    assert_rows_answered(response, len(rows))


@FUZZ
@given(body=st.binary(max_size=300), content_type=st.sampled_from(["application/json", "application/x-ndjson",
                                                                    "text/plain", ""]),
       encoding=st.sampled_from([None, "gzip", "identity", "br", "deflate"]))
def test_events_take_any_bytes(api: Api, body: bytes, content_type: str, encoding: str | None) -> None:
    assert_sane(post_events(api, body, content_type, encoding))


@FUZZ
@given(authorization=header_text, content_type=header_text, encoding=header_text)
def test_any_header_values(api: Api, authorization: str, content_type: str, encoding: str) -> None:
    raw = {name: value.encode("latin-1") for name, value in
           (("Authorization", authorization), ("Content-Type", content_type), ("Content-Encoding", encoding))}
    assert_sane(api.client.post("/v1/events", content=b"[]", headers=raw))
    assert_sane(api.client.get("/v1/platforms", headers={"Authorization": raw["Authorization"]}))
    with_key = {**api.vendor, "Content-Type": raw["Content-Type"], "Content-Encoding": raw["Content-Encoding"]}
    assert_sane(api.client.post("/v1/events", content=orjson.dumps([event(platform="hp")]), headers=with_key))


@FUZZ
@given(body=json_values, segment=st.text(max_size=30))
def test_admin_bodies_and_path_segments(api: Api, body: Any, segment: str) -> None:
    raw = orjson.dumps(body)
    path = quote(segment, safe="") or "x"
    json_type = {**ADMIN, "Content-Type": "application/json"}
    for method, url in [("PUT", f"/v1/platforms/{path}"), ("POST", "/v1/keys"), ("POST", "/v1/admin/seal"),
                        ("PUT", f"/v1/reference/provinces/{path}"), ("DELETE", f"/v1/keys/{path}")]:
        assert_sane(api.client.request(method, url, content=raw, headers=json_type))


@FUZZ
@given(segment=st.text(max_size=30), period=st.text(max_size=20), word=st.text(max_size=20))
def test_read_endpoints_take_any_path_and_query(api: Api, segment: str, period: str, word: str) -> None:
    path = quote(segment, safe="") or "x"
    for url, params in [
        (f"/v1/platforms/{path}/metrics", {"period": period}),
        ("/v1/platforms/hp/metrics", {"period": period, "format": word}),
        (f"/v1/platforms/{path}/breakdown", {"period": period, "by": word}),
        ("/v1/rankings", {"period": period, "metric": word, "origin": word, "kind": word, "category": word}),
        ("/v1/compare/origin", {"period": period, "category": word, "metric": word}),
        ("/v1/overview", {"period": period, "band_edges": word}),
        (f"/v1/summaries/{path}", {"format": word, "lang": word}),
        (f"/v1/summaries/{path}/versions", {}),
    ]:
        assert_sane(api.client.get(url, params=params, headers=api.analyst))


# -- explicit hostile requests ---------------------------------------------------------------------
def gzip_of_zeros(size: int) -> bytes:
    """A gzip stream of `size` zero bytes, built in slices so the bomb never sits in memory."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    slice_ = b"\0" * (1 << 20)
    parts = [packer.compress(slice_) for _ in range(size // len(slice_))]
    return b"".join(parts) + packer.flush()


def test_gzip_bomb_is_refused(api: Api) -> None:
    bomb = gzip_of_zeros(1 << 30)  # 1 GiB of zeros in ~1 MB
    assert len(bomb) < MAX_BODY_BYTES
    for content_type in ("application/x-ndjson", "application/json"):
        response = post_events(api, bomb, content_type, "gzip")
        assert_sane(response)
        assert response.status_code == 413
        assert str(MAX_DECOMPRESSED_BYTES) in response.json()["error"]


def test_gzip_that_lies_is_refused(api: Api) -> None:
    truncated = gzip.compress(orjson.dumps([event(platform="hp")]))[:-10]
    for body in (b"not gzip at all", truncated, gzip.compress(b"") + b"trailing"):
        response = post_events(api, body, "application/json", "gzip")
        assert_sane(response)
        assert response.status_code == 400


def test_deeply_nested_json(api: Api) -> None:
    deep = b"[" * 100_000
    closed = b"[" * 100_000 + b"]" * 100_000
    for body in (deep, closed):
        response = post_events(api, body)
        assert_sane(response)
        assert response.status_code == 400
    short = b"[" * 2_000 + b"]" * 2_000  # deeper than Python's recursion limit, within MAX_EVENT_BYTES
    nested_lines = post_events(api, closed + b"\n" + short + b"\n" + orjson.dumps(event(platform="hp")),
                               "application/x-ndjson")
    answer = assert_rows_answered(nested_lines, 3)
    assert answer["accepted"] == 1 and [r["reason"] for r in answer["rejected"]] == ["too_large", "malformed"]
    for method, url in [("PUT", "/v1/platforms/deep"), ("POST", "/v1/keys"), ("POST", "/v1/admin/seal")]:
        response = api.client.request(method, url, content=closed,
                                      headers={**ADMIN, "Content-Type": "application/json"})
        assert_sane(response)
        assert 400 <= response.status_code < 500


def test_huge_strings(api: Api) -> None:
    ten_mb = "u" * 10_000_000
    plain = post_events(api, orjson.dumps([event(platform="hp", user=ten_mb)]))
    assert_sane(plain)
    assert plain.status_code == 413
    packed = post_events(api, gzip.compress(orjson.dumps([event(platform="hp", user=ten_mb)])), encoding="gzip")
    answer = assert_rows_answered(packed, 1)
    # refused before it is parsed: an event is at most MAX_EVENT_BYTES
    assert [(r["reason"], r["detail"]) for r in answer["rejected"]] == [
        ("too_large", f"the row is {len(orjson.dumps(event(platform='hp', user=ten_mb)))} bytes; an event is at "
                      "most 4096 bytes")]
    assert len(packed.text) < 2_000, "the answer must not echo the huge value"
    for field in ("event_id", "platform", "ts", "type", "country", "province", "os"):
        answer = assert_rows_answered(post_events(api, gzip.compress(orjson.dumps([event(**{field: ten_mb})])),
                                                  encoding="gzip"), 1)
        assert answer["accepted"] == 0
        assert len(orjson.dumps(answer)) < 2_000, field
    name = api.client.put("/v1/platforms/huge", json=platform_body("hv", name="n" * 6_000_000), headers=ADMIN)
    assert_sane(name)
    assert name.status_code == 413, "every endpoint limits the size of a request body"


def test_invalid_utf8(api: Api) -> None:
    good = orjson.dumps(event(platform="hp"))
    broken = good.replace(b'"user-1"', b'"user-\xff\xfe"')
    assert broken != good
    array = post_events(api, b"[" + broken + b"," + good + b"]")  # a row of an array is refused alone too
    answer = assert_rows_answered(array, 2)
    assert answer["accepted"] == 1
    assert [(r["index"], r["reason"]) for r in answer["rejected"]] == [(0, "malformed")]
    assert "UTF-8" in answer["rejected"][0]["detail"]
    lines = post_events(api, broken + b"\n" + orjson.dumps(event(platform="hp")), "application/x-ndjson")
    answer = assert_rows_answered(lines, 2)
    assert answer["accepted"] == 1
    assert [(r["index"], r["reason"]) for r in answer["rejected"]] == [(0, "malformed")]
    assert "UTF-8" in answer["rejected"][0]["detail"]
    registry = api.client.put("/v1/platforms/utf", content=b'{"name": "\xff\xfe"}',
                              headers={**ADMIN, "Content-Type": "application/json"})
    assert_sane(registry)
    assert 400 <= registry.status_code < 500


def test_wrong_content_types(api: Api) -> None:
    body = orjson.dumps([event(platform="hp")])
    for content_type in ("text/plain", "application/xml", "multipart/form-data; boundary=x",
                         "application/x-www-form-urlencoded", "", "application/jsonx"):
        response = post_events(api, body, content_type)
        assert_sane(response)
        assert response.status_code == 415
        assert "Content-Type" in response.json()["error"]
    for encoding in ("br", "deflate", "compress", "gzip, br"):
        response = post_events(api, body, "application/json", encoding)
        assert_sane(response)
        assert response.status_code == 415 and "Content-Encoding" in response.json()["error"]
    form = api.client.put("/v1/platforms/form", content=b"name=x", headers={
        **ADMIN, "Content-Type": "application/x-www-form-urlencoded"})
    assert_sane(form)
    assert 400 <= form.status_code < 500


def test_unknown_paths_and_methods_answer_json(api: Api) -> None:
    for method, url in [("GET", "/nope"), ("GET", "/v1/nope"), ("DELETE", "/v1/platforms"), ("GET", "/v1/events"),
                        ("PATCH", "/v1/keys")]:
        response = api.client.request(method, url, headers=ADMIN)
        assert response.status_code in {404, 405}
        assert_sane(response)


def test_nul_bytes(api: Api) -> None:
    user = api.client.post("/v1/events", json=[event(platform="hp", user="a\x00b")], headers=api.vendor)
    assert assert_rows_answered(user, 1)["accepted"] == 1
    for field, value in [("platform", "hp\x00"), ("event_id", str(uuid.uuid4())[:-1] + "\x00"),
                         ("ts", "2022-03-15T10:00:00\x00+07:00"), ("type", "session\x00"), ("country", "VN\x00"),
                         ("province", "VN-HN\x00"), ("os", "ios\x00")]:
        row = event(**{"platform": "hp", field: value})
        answer = assert_rows_answered(api.client.post("/v1/events", json=[row], headers=api.vendor), 1)
        assert answer["accepted"] == 0, field
        assert answer["rejected"][0]["reason"] in {"invalid_field", "unknown_platform"}
    named = api.client.put("/v1/platforms/nul", json=platform_body("hv", name="Zalo\x00PC"), headers=ADMIN)
    assert named.status_code == 200
    listed = {p["platform_id"]: p for p in api.client.get("/v1/platforms", headers=ADMIN).json()["items"]}
    assert listed["nul"]["name"] == "Zalo\x00PC"
    for body in ({"role": "vendor", "vendor": "v\x00"}, {"role": "admin\x00"}):
        response = api.client.post("/v1/keys", json=body, headers=ADMIN)
        assert_sane(response)
        assert response.status_code == 422
    assert_sane(api.client.put("/v1/platforms/a%00b", json=platform_body("hv"), headers=ADMIN))
    assert_sane(api.client.get("/v1/platforms/hp%00/metrics", params={"period": "2022-Q1"}, headers=ADMIN))


def test_sql_fragments_are_data_not_code(api: Api) -> None:
    store = api.store
    events_before = store.rows("SELECT count() FROM events")[0][0]
    accepted = 0
    for fragment in SQL_FRAGMENTS:
        # in every string field of an event: rejected per row, or (user) stored as a pseudonym
        for field in ("event_id", "platform", "user", "type", "ts", "country", "province", "os"):
            row = event(**{"platform": "hp", field: fragment})
            answer = assert_rows_answered(api.client.post("/v1/events", json=[row], headers=api.vendor), 1)
            if field == "user":
                assert answer["accepted"] == 1
                accepted += 1
            else:
                assert answer["accepted"] == 0, (field, fragment)
        # as the name of a platform: stored verbatim; in the constrained fields: 422
        name = api.client.put("/v1/platforms/sqlname", json=platform_body("hv", name=fragment), headers=ADMIN)
        assert name.status_code == 200
        listed = {p["platform_id"]: p for p in api.client.get("/v1/platforms", headers=ADMIN).json()["items"]}
        assert listed["sqlname"]["name"] == fragment
        for field in ("vendor", "origin", "category", "kind", "province"):
            response = api.client.put("/v1/platforms/sqlfield", json={**platform_body("hv"), field: fragment},
                                      headers=ADMIN)
            assert_sane(response)
            assert response.status_code == 422, (field, fragment, response.text)
        for body in ({"role": fragment}, {"role": "vendor", "vendor": fragment}):
            response = api.client.post("/v1/keys", json=body, headers=ADMIN)
            assert_sane(response)
            assert response.status_code == 422
        seal = api.client.post("/v1/admin/seal", json={"before": fragment}, headers=ADMIN)
        assert_sane(seal)
        assert seal.status_code == 422
        province = api.client.put("/v1/reference/provinces/VN-99", json={"name": fragment, "smartphone_users": 1},
                                  headers=ADMIN)
        assert province.status_code == 200
        # in path and query parameters
        segment = quote(fragment, safe="")
        for method, url, params in [
            ("PUT", f"/v1/platforms/{segment}", {}), ("DELETE", f"/v1/keys/{segment}", {}),
            ("PUT", f"/v1/reference/provinces/{segment}", {}),
            ("GET", f"/v1/platforms/{segment}/metrics", {"period": "2022-Q1"}),
            ("GET", "/v1/platforms/hp/metrics", {"period": fragment}),
            ("GET", f"/v1/platforms/{segment}/breakdown", {"period": "2022-Q1", "by": "os"}),
            ("GET", "/v1/platforms/hp/breakdown", {"period": "2022-Q1", "by": fragment}),
            ("GET", "/v1/rankings", {"period": "2022-Q1", "metric": fragment}),
            ("GET", "/v1/rankings", {"period": "2022-Q1", "metric": "mau_avg", "category": fragment}),
            ("GET", "/v1/compare/origin", {"period": "2022-Q1", "category": fragment}),
            ("GET", "/v1/overview", {"period": "2022-Q1", "band_edges": fragment}),
            ("GET", f"/v1/summaries/{segment}", {}), ("GET", f"/v1/summaries/{segment}/versions", {}),
        ]:
            response = api.client.request(method, url, params=params, headers=ADMIN,
                                          json=platform_body("hv") if method == "PUT" else None)
            assert_sane(response)
            assert response.status_code in {200, 404, 422}, (method, url, params, response.text)
    tables_intact(store)
    assert store.rows("SELECT count() FROM events")[0][0] == events_before + accepted
    stored_names = store.rows("SELECT name FROM provinces FINAL WHERE code = 'VN-99'")
    assert stored_names == [(SQL_FRAGMENTS[-1],)]


# -- a slow client cannot hold the server ----------------------------------------------------------
@pytest.fixture
def live_server(chdb_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, int, str]]:
    """The app under a real uvicorn (in a thread) on a free loopback port, with a 1.5 s body time limit."""
    monkeypatch.setattr(service.limits, "BODY_TIMEOUT_S", 1.5)
    with fresh_store(chdb_dir) as store:
        app = create_app(Settings(data_dir=tmp_path, admin_key=ADMIN_KEY), store=store)
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                               timeout_keep_alive=5))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.started
        url = f"http://127.0.0.1:{port}"
        key = httpx.post(f"{url}/v1/keys", json={"role": "vendor", "vendor": "hv"}, headers=ADMIN).json()["key"]
        try:
            yield url, port, key
        finally:
            server.should_exit = True
            thread.join(timeout=30)


def test_slow_client_cannot_hold_the_server(live_server: tuple[str, int, str]) -> None:
    url, port, key = live_server
    body = orjson.dumps([event(platform="hp")]) * 4
    slow = socket.create_connection(("127.0.0.1", port), timeout=10)
    slow.sendall((f"POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
                  f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode())
    started = time.monotonic()
    answers: list[tuple[float, int]] = []

    def others() -> None:  # other clients meanwhile, one every 0.2 s
        with httpx.Client(base_url=url, timeout=5) as client:
            while time.monotonic() - started < 3.0:
                answers.append((time.monotonic() - started, client.get("/health/live").status_code))
                listed = client.get("/v1/platforms", headers=ADMIN)
                answers.append((time.monotonic() - started, listed.status_code))
                time.sleep(0.2)

    meanwhile = threading.Thread(target=others)
    meanwhile.start()
    sent, cut_off_at = 0, None
    try:
        while time.monotonic() - started < 4.0 and sent < len(body) - 1:  # trickle for longer than the limit
            slow.sendall(body[sent:sent + 1])
            sent += 1
            time.sleep(0.1)
    except OSError:
        cut_off_at = time.monotonic() - started  # the server closed the connection on us: what it should do
    meanwhile.join()
    slow.settimeout(5)
    reply = b""
    try:
        while chunk := slow.recv(65536):
            reply += chunk
    except OSError:
        pass
    slow.close()
    assert len(answers) >= 10 and all(status == 200 for _, status in answers), answers
    assert any(1.0 < t < 1.5 for t, _ in answers), "other requests were answered while the slow body was pending"
    head, _, payload = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), f"no 408 for a body trickled over 4 s: {reply[:300]!r}"
    assert b'"error"' in payload and b"1.5 s" in payload
    assert cut_off_at is not None and cut_off_at < 3.5, "the server closes the slow connection after its limit"
