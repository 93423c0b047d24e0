"""Who may do what: every endpoint of the app against every role, from one table.

Roles: no key, a revoked key, vendor A, vendor B, an analyst and an admin. Vendor A owns platform
`pa`, vendor B owns `pb`; rows that name a platform are tried on both, so a vendor reading or writing
another vendor's platform is covered. `test_every_route_has_a_row` fails when the app gains an
endpoint that the table does not list. Rows for endpoints still being built (metrics, summaries)
are skipped, with the reason, only while their route is absent from the app.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import Settings
from tests.factories import ADMIN, ADMIN_KEY, bearer, event, fresh_store, platform_body

ROLES = ("none", "revoked", "vendor_a", "vendor_b", "analyst", "admin")
READERS = {"analyst", "admin"}
KEY_HOLDERS = {"vendor_a", "vendor_b", "analyst", "admin"}
OWNER = {"pa": "vendor_a", "pb": "vendor_b"}
PERIOD = "2022-Q1"


@dataclass
class World:
    """The app and one set of request headers per role."""

    app: FastAPI
    client: TestClient
    headers: dict[str, dict[str, str]]

    def new_key_id(self) -> str:
        created = self.client.post("/v1/keys", json={"role": "analyst"}, headers=ADMIN)
        assert created.status_code == 201, created.text
        key_id: str = created.json()["id"]
        return key_id


@dataclass(frozen=True)
class Case:
    """One request to one route and, per role, the statuses that are right for it."""

    method: str
    route: str  # the route's path template, as the app declares it
    label: str
    allowed: frozenset[str]  # roles that may use the route; others get 401 (no valid key) or 403 (wrong role)
    url: Callable[[World], str]
    ok: frozenset[int] = frozenset({200})
    body: Callable[[World], dict[str, Any]] = field(default=lambda _: {})
    verify: Callable[[str, httpx.Response], None] | None = None
    public: bool = False

    @property
    def key(self) -> tuple[str, str]:
        return self.method, normalise(self.route)

    def expected(self, role: str) -> frozenset[int]:
        if self.public or role in self.allowed:
            return self.ok
        if role in {"none", "revoked"}:
            return frozenset({401})
        return frozenset({403})


def normalise(path: str) -> str:
    """A path template with its parameter names erased: `/v1/keys/{key_id}` -> `/v1/keys/{}`."""
    return re.sub(r"\{[^}]*\}", "{}", path)


def fixed(url: str) -> Callable[[World], str]:
    return lambda _: url


def events_body(platform: str) -> Callable[[World], dict[str, Any]]:
    return lambda _: {"json": [event(platform=platform, user="authz-user", ts="2022-02-10T08:00:00+07:00")]}


def check_events(platform: str) -> Callable[[str, httpx.Response], None]:
    """The owner's event is stored; anyone else's vendor key gets 200 with the row refused per row."""

    def verify(role: str, response: httpx.Response) -> None:
        answer = response.json()
        if role == OWNER[platform]:
            assert (answer["accepted"], answer["duplicates"], answer["rejected"]) == (1, 0, [])
        else:
            assert answer["accepted"] == 0
            assert [r["reason"] for r in answer["rejected"]] == ["platform_not_allowed"]

    return verify


def platform_readers(platform: str) -> frozenset[str]:
    """Metrics of one platform: analysts, admins and the vendor that owns it."""
    return frozenset(READERS | {OWNER[platform]})


ALL = frozenset(ROLES)
ADMIN_ONLY = frozenset({"admin"})
ANY_KEY = frozenset(KEY_HOLDERS)
VENDORS = frozenset({"vendor_a", "vendor_b"})
READ = frozenset(READERS)
SUMMARY_READ = frozenset({200, 404})  # a summary that was not generated yet is 404, which still proves access

CASES: list[Case] = [
    # public: documentation and probes
    Case("GET", "/openapi.json", "openapi", ALL, fixed("/openapi.json"), public=True),
    Case("GET", "/docs", "docs", ALL, fixed("/docs"), public=True),
    Case("GET", "/docs/oauth2-redirect", "oauth2-redirect", ALL, fixed("/docs/oauth2-redirect"), public=True),
    Case("GET", "/redoc", "redoc", ALL, fixed("/redoc"), public=True),
    Case("GET", "/health/live", "live", ALL, fixed("/health/live"), public=True),
    Case("GET", "/health/ready", "ready", ALL, fixed("/health/ready"), public=True),
    Case("GET", "/", "dashboard", ALL, fixed("/"), public=True),  # the page; its figures come from the API
    # who the key is, what the store holds (the dashboard's sign-in)
    Case("GET", "/v1/me", "me", ANY_KEY, fixed("/v1/me")),
    Case("GET", "/v1/dataset", "dataset", ANY_KEY, fixed("/v1/dataset")),
    # keys and admin operations
    Case("POST", "/v1/keys", "create-key", ADMIN_ONLY, fixed("/v1/keys"), frozenset({201}),
         body=lambda _: {"json": {"role": "analyst"}}),
    Case("GET", "/v1/keys", "list-keys", ADMIN_ONLY, fixed("/v1/keys")),
    Case("DELETE", "/v1/keys/{key_id}", "revoke-key", ADMIN_ONLY, lambda w: f"/v1/keys/{w.new_key_id()}",
         frozenset({204})),
    Case("POST", "/v1/admin/seal", "seal", ADMIN_ONLY, fixed("/v1/admin/seal"),
         body=lambda _: {"json": {"before": "2000-01"}}),
    Case("POST", "/v1/admin/verify", "verify", ADMIN_ONLY, fixed("/v1/admin/verify"),
         body=lambda _: {"json": {"period": "2022-Q1"}}),
    Case("GET", "/v1/admin/doctor", "doctor", ADMIN_ONLY, fixed("/v1/admin/doctor")),
    # registry
    Case("PUT", "/v1/platforms/{platform_id}", "put-platform", ADMIN_ONLY, fixed("/v1/platforms/pc"),
         body=lambda _: {"json": platform_body("vc", name="Platform C")}),
    Case("GET", "/v1/platforms", "list-platforms", ANY_KEY, fixed("/v1/platforms")),
    Case("GET", "/v1/categories", "categories", ANY_KEY, fixed("/v1/categories")),
    Case("GET", "/v1/provinces", "provinces", ANY_KEY, fixed("/v1/provinces")),
    Case("PUT", "/v1/reference/provinces/{code}", "put-province", ADMIN_ONLY, fixed("/v1/reference/provinces/VN-26"),
         body=lambda _: {"json": {"name": "Thừa Thiên Huế", "smartphone_users": 610_512}}),
    # ingestion: only vendor keys, and only for their own platforms (per row)
    *[Case("POST", "/v1/events", f"events-for-{p}", VENDORS, fixed("/v1/events"), body=events_body(p),
           verify=check_events(p)) for p in ("pa", "pb")],
    # metrics (issue 3)
    *[Case("GET", "/v1/platforms/{platform_id}/metrics", f"metrics-of-{p}", platform_readers(p),
           fixed(f"/v1/platforms/{p}/metrics?period={PERIOD}")) for p in ("pa", "pb")],
    *[Case("GET", "/v1/platforms/{platform_id}/breakdown", f"breakdown-of-{p}", platform_readers(p),
           fixed(f"/v1/platforms/{p}/breakdown?period={PERIOD}&by=province")) for p in ("pa", "pb")],
    Case("GET", "/v1/rankings", "rankings", READ, fixed(f"/v1/rankings?period={PERIOD}&metric=mau_avg")),
    Case("GET", "/v1/compare/origin", "compare-origin", READ,
         fixed(f"/v1/compare/origin?period={PERIOD}&category=communication")),
    Case("GET", "/v1/overview", "overview", READ, fixed(f"/v1/overview?period={PERIOD}")),
    # summaries (issue 4)
    Case("POST", "/v1/summaries/{period}", "generate-summary", ADMIN_ONLY, fixed(f"/v1/summaries/{PERIOD}"),
         frozenset({200, 201})),
    Case("GET", "/v1/summaries/{period}", "summary", READ, fixed(f"/v1/summaries/{PERIOD}"), SUMMARY_READ),
    Case("GET", "/v1/summaries/{period}/versions", "summary-versions", READ,
         fixed(f"/v1/summaries/{PERIOD}/versions"), SUMMARY_READ),
    Case("GET", "/v1/summaries/{period}/versions/{n}", "summary-version", READ,
         fixed(f"/v1/summaries/{PERIOD}/versions/1"), SUMMARY_READ),
    # data quality and reconciliation (issue 17): every key reads (a vendor only its own rows); a vendor declares
    # totals for its own platforms only
    Case("GET", "/v1/quality", "quality", ANY_KEY, fixed(f"/v1/quality?period={PERIOD}")),
    *[Case("PUT", "/v1/platforms/{platform_id}/declared/{month}", f"declare-for-{p}", frozenset({OWNER[p]}),
           fixed(f"/v1/platforms/{p}/declared/2022-02"), body=lambda _: {"json": {"events": 1}}) for p in ("pa", "pb")],
    Case("GET", "/v1/reconciliation", "reconciliation", ANY_KEY, fixed(f"/v1/reconciliation?period={PERIOD}")),
    Case("GET", "/v1/summaries/{period}/versions/{n}/manifest", "summary-manifest", READ,
         fixed(f"/v1/summaries/{PERIOD}/versions/1/manifest"), SUMMARY_READ),
    Case("GET", "/v1/summaries/{period}/versions/{n}/verification", "summary-verification", READ,
         fixed(f"/v1/summaries/{PERIOD}/versions/1/verification"), SUMMARY_READ),
]


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, normalised path) of every route the app serves, included routers flattened."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI lists included routes directly
        contexts: Any = app.routes
    else:
        contexts = iter_route_contexts(app.routes)
    found: set[tuple[str, str]] = set()
    for route in contexts:
        methods = set(getattr(route, "methods", None) or ())
        if "GET" in methods:
            methods.discard("HEAD")  # Starlette adds HEAD to every GET route
        path = getattr(route, "path", None)
        if path is not None:
            found.update((method, normalise(path)) for method in methods)
    return found


@pytest.fixture(scope="module")
def world(chdb_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with fresh_store(chdb_dir) as store:
        settings = Settings(data_dir=tmp_path_factory.mktemp("authz"), admin_key=ADMIN_KEY,
                            rate_limit_rps=1000, rate_limit_burst=10_000, cache_ttl_s=0)
        app = create_app(settings, store=store)
        with TestClient(app) as client:
            def key(body: dict[str, Any]) -> dict[str, Any]:
                created = client.post("/v1/keys", json=body, headers=ADMIN)
                assert created.status_code == 201, created.text
                return dict(created.json())

            revoked = key({"role": "vendor", "vendor": "va"})
            assert client.delete(f"/v1/keys/{revoked['id']}", headers=ADMIN).status_code == 204
            headers = {
                "none": {},
                "revoked": bearer(revoked["key"]),
                "vendor_a": bearer(key({"role": "vendor", "vendor": "va"})["key"]),
                "vendor_b": bearer(key({"role": "vendor", "vendor": "vb"})["key"]),
                "analyst": bearer(key({"role": "analyst"})["key"]),
                "admin": ADMIN,
            }
            for platform, vendor in (("pa", "va"), ("pb", "vb"), ("pc", "vc")):
                put = client.put(f"/v1/platforms/{platform}", json=platform_body(vendor), headers=ADMIN)
                assert put.status_code == 200, put.text
            yield World(app, client, headers)


def test_every_route_has_a_row(world: World) -> None:
    listed = {case.key for case in CASES}
    missing = sorted(app_routes(world.app) - listed)
    assert not missing, f"routes without a row in tests/api/test_authz.py CASES (add one per route): {missing}"


def test_the_table_covers_the_required_endpoints() -> None:
    """Guards against rows being dropped: the issue's endpoints are all in the table."""
    listed = {case.key for case in CASES}
    for method, path in [("POST", "/v1/events"), ("GET", "/v1/platforms/{}/metrics"), ("GET", "/v1/rankings"),
                         ("GET", "/v1/summaries/{}"), ("POST", "/v1/keys"), ("DELETE", "/v1/keys/{}"),
                         ("GET", "/v1/quality"), ("PUT", "/v1/platforms/{}/declared/{}"),
                         ("GET", "/v1/reconciliation")]:
        assert (method, path) in listed


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.method} {c.label}")
def test_access(world: World, case: Case, role: str) -> None:
    if case.key not in app_routes(world.app):
        pytest.skip(f"{case.method} {case.route} is not served by the app yet")
    response = world.client.request(case.method, case.url(world), headers=world.headers[role], **case.body(world))
    expected = case.expected(role)
    assert response.status_code in expected, (
        f"{role} {case.method} {case.url(world)}: expected {sorted(expected)}, got {response.status_code} "
        f"{response.text[:300]}")
    if response.status_code in {401, 403}:
        error = response.json()["error"]
        assert isinstance(error, str) and error
        if response.status_code == 401:
            assert "key" in error
    if case.verify is not None and response.status_code in case.ok:
        case.verify(role, response)


def test_revoking_a_key_stops_it_at_once(world: World) -> None:
    created = world.client.post("/v1/keys", json={"role": "vendor", "vendor": "va"}, headers=ADMIN).json()
    headers = bearer(created["key"])
    first = world.client.post("/v1/events", json=[event(platform="pa", ts="2022-02-11T08:00:00+07:00")],
                              headers=headers)
    assert first.status_code == 200 and first.json()["accepted"] == 1
    assert world.client.delete(f"/v1/keys/{created['id']}", headers=ADMIN).status_code == 204
    again = world.client.post("/v1/events", json=[event(platform="pa", ts="2022-02-11T08:00:00+07:00")],
                              headers=headers)
    assert again.status_code == 401
    assert world.client.get("/v1/platforms", headers=headers).status_code == 401
    # revoking twice: the key is no longer active
    assert world.client.delete(f"/v1/keys/{created['id']}", headers=ADMIN).status_code == 404


def test_cross_vendor_batch_keeps_own_rows_and_refuses_the_others(world: World) -> None:
    """Vendor A posts one event for its own platform and one for B's: 200, one stored, one refused."""
    own, foreign = (event(platform="pa", ts="2022-02-12T08:00:00+07:00"),
                    event(platform="pb", ts="2022-02-12T08:00:00+07:00"))
    answer = world.client.post("/v1/events", json=[own, foreign], headers=world.headers["vendor_a"])
    assert answer.status_code == 200
    body = answer.json()
    assert body["accepted"] == 1 and body["duplicates"] == 0
    assert [(r["index"], r["event_id"], r["reason"]) for r in body["rejected"]] == [
        (1, foreign["event_id"], "platform_not_allowed")]
    assert "pb" in body["rejected"][0]["detail"]
    store = world.app.state.services.store
    stored = store.rows("SELECT platform, toString(event_id) FROM events WHERE event_id IN {ids:Array(UUID)}",
                        {"ids": [own["event_id"], foreign["event_id"]]})
    assert stored == [("pa", own["event_id"])]


def test_unknown_key_shapes_are_401(world: World) -> None:
    for header in ["Bearer", "Bearer ", "Basic " + ADMIN_KEY, "bearer x", ADMIN_KEY, "Bearer " + ADMIN_KEY + "x",
                   "Bearer " + str(uuid.uuid4())]:
        response = world.client.get("/v1/platforms", headers={"Authorization": header})
        assert response.status_code == 401, header
        assert response.json()["error"]
