"""The OpenAPI document (service/openapi.py): the Bearer scheme, the events bodies, the error statuses of each
route (checked by hand for some, and against real answers by schemathesis for all), and the examples, which
the running API accepts and whose answers have the keys real answers have."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from service.app import create_app
from service.openapi_examples import EXAMPLES
from service.settings import Settings
from tests.factories import ADMIN, ADMIN_KEY, Api, bearer, fresh_store, running_api

SPEC = create_app(Settings(data_dir=Path("unused"), admin_key=ADMIN_KEY)).openapi()
OPERATIONS = {f"{method.upper()} {path}": operation for path, item in SPEC["paths"].items()
              for method, operation in item.items()}


# objects whose keys are data, not fields
KEYED_BY_DATA = {"figures", "categories", "rejected_by_reason", "rejected", "sql_sha256", "files"}
VENDOR_ROUTES = {"POST /v1/events", "PUT /v1/platforms/{platform_id}/declared/{month}"}


def errors(label: str) -> set[int]:
    return {int(status) for status in OPERATIONS[label]["responses"] if int(status) >= 400}


def test_bearer_scheme_on_every_route_that_takes_a_key() -> None:
    scheme = SPEC["components"]["securitySchemes"]["bearer"]
    assert list(SPEC["components"]["securitySchemes"]) == ["bearer"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    for label, operation in OPERATIONS.items():
        public = label.startswith("GET /health/")
        assert ("security" not in operation) == public, label
        if not public:
            assert operation["security"] == [{"bearer": []}], label


def test_error_statuses_of_some_routes_by_hand() -> None:
    # every request may be refused for its size (413); a key brings 401 and 429, the store 503
    assert errors("GET /health/live") == {413}
    assert errors("GET /health/ready") == {413, 503}
    assert errors("GET /v1/me") == {401, 413, 429, 503}
    assert errors("GET /v1/keys") == {401, 403, 413, 429, 503}
    assert errors("DELETE /v1/keys/{key_id}") == {401, 403, 404, 413, 422, 429, 503}
    # 422: rows the data store refused as data (a gap in validation), that request alone
    assert errors("POST /v1/events") == {400, 401, 403, 408, 413, 415, 422, 429, 503}
    assert errors("GET /v1/rankings") == {401, 403, 413, 422, 429, 503}
    assert errors("GET /v1/platforms/{platform_id}/metrics") == {401, 403, 404, 413, 422, 429, 503}
    assert errors("PUT /v1/platforms/{platform_id}") == {401, 403, 408, 413, 422, 429, 503}
    assert "analyst, admin" in OPERATIONS["GET /v1/rankings"]["responses"]["403"]["description"]
    assert "another vendor" in OPERATIONS["GET /v1/platforms/{platform_id}/metrics"]["responses"]["403"]["description"]
    assert OPERATIONS["GET /v1/rankings"]["responses"]["429"]["headers"]["Retry-After"]["schema"] == {"type": "integer"}
    error = SPEC["components"]["schemas"]["Error"]
    assert error["required"] == ["error"] and set(error["properties"]) == {"error", "fields"}
    for label, operation in OPERATIONS.items():
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                content = response["content"]["application/json"]
                assert content["schema"] == {"$ref": "#/components/schemas/Error"}, (label, status)
                assert isinstance(content["example"]["error"], str), (label, status)
    assert "HTTPValidationError" not in SPEC["components"]["schemas"]


def test_events_bodies_and_answer() -> None:
    operation = OPERATIONS["POST /v1/events"]
    content = operation["requestBody"]["content"]
    assert content["application/json"]["schema"]["items"] == {"$ref": "#/components/schemas/Event"}
    assert content["application/json"]["schema"]["maxItems"] == 10_000
    assert content["application/x-ndjson"]["schema"]["type"] == "string"
    assert len(content["application/json"]["example"]) == 2
    assert content["application/x-ndjson"]["example"].count("\n") == 2
    assert operation["responses"]["200"]["content"]["application/json"]["schema"] == \
        {"$ref": "#/components/schemas/IngestResult"}
    event = SPEC["components"]["schemas"]["Event"]
    assert event["required"] == ["event_id", "platform", "user", "ts"]
    assert set(event["properties"]) == {"event_id", "platform", "user", "type", "ts", "duration_s", "bytes",
                                        "country", "province", "os"}
    assert any(p["name"] == "Content-Encoding" and p["in"] == "header" for p in operation["parameters"])


def test_every_route_has_an_example() -> None:
    assert set(EXAMPLES) == set(OPERATIONS)
    for label, operation in OPERATIONS.items():
        success = [s for s in operation["responses"] if int(s) < 300]
        assert len(success) == 1, label
        for media in operation["responses"][success[0]].get("content", {}).values():
            assert "example" in media or media["schema"].get("format") == "binary", label
        for media in operation.get("requestBody", {}).get("content", {}).values():
            assert "example" in media, label


# -- the examples against the running API ----------------------------------------------------------------------
def _path(label: str) -> tuple[str, str, dict[str, Any]]:
    method, template = label.split(" ", 1)
    parameters = EXAMPLES[label].get("parameters", {})
    path = re.sub(r"\{(\w+)\}", lambda m: str(parameters[m.group(1)]), template)
    query = {k: v for k, v in parameters.items() if f"{{{k}}}" not in template}
    return method, path, query


def _same_shape(example: Any, actual: Any, where: str) -> None:
    """Same keys at every level of objects (lists: their first items), values aside; null stands for anything."""
    if actual is None:
        return
    if isinstance(example, dict):
        assert isinstance(actual, dict) and set(example) == set(actual), (where, example, actual)
        for key in example:
            if key not in KEYED_BY_DATA and example[key] != ["…"]:
                _same_shape(example[key], actual[key], f"{where}.{key}")
    elif isinstance(example, list) and example and actual:
        _same_shape(example[0], actual[0], f"{where}[0]")


@pytest.fixture(scope="module")
def api(chdb_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with fresh_store(chdb_dir) as store, running_api(store, tmp_path_factory.mktemp("examples"),
                                                     cache_ttl_s=0) as running:
        yield running


def test_request_examples_are_accepted_and_answers_have_the_examples_keys(api: Api) -> None:
    order = ["PUT /v1/platforms/{platform_id}", "PUT /v1/reference/provinces/{code}", "POST /v1/keys",
             "POST /v1/events", "POST /v1/summaries/{period}"]
    labels = order + sorted(set(EXAMPLES) - set(order) - {"DELETE /v1/keys/{key_id}", "POST /v1/admin/seal"}) + \
        ["POST /v1/admin/seal"]
    vendor = api.vendor("vng")
    for label in labels:
        method, path, query = _path(label)
        status, contents = EXAMPLES[label]["response"]
        headers = vendor if label in VENDOR_ROUTES else ADMIN
        for media, body in (EXAMPLES[label].get("request") or {"": None}).items():
            if media == "application/x-ndjson":
                answer = api.client.request(method, path, params=query, content=body,
                                            headers={**headers, "Content-Type": media})
            else:
                answer = api.client.request(method, path, params=query, json=body, headers=headers)
            assert answer.status_code == status, (label, media, answer.text)
            if "application/json" in contents and answer.headers["content-type"].startswith("application/json"):
                _same_shape(contents["application/json"], answer.json(), label)
    key_id = api.create_key("analyst")["id"]
    assert api.client.delete(f"/v1/keys/{key_id}", headers=ADMIN).status_code == \
        EXAMPLES["DELETE /v1/keys/{key_id}"]["response"][0]


def test_answers_conform_to_the_document(chdb_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Every status and body a generated request gets is one the document declares for its route."""
    with fresh_store(chdb_dir) as store:
        app = create_app(Settings(data_dir=tmp_path_factory.mktemp("conformance"), admin_key=ADMIN_KEY,
                                  rate_limit_rps=100_000, rate_limit_burst=1_000_000), store=store)
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        try:
            with asgi.get_client(app) as client:  # type: ignore[arg-type]
                vendor = client.post("/v1/keys", json={"role": "vendor", "vendor": "sv"}, headers=ADMIN).json()["key"]
            for result in schema.get_all_operations():
                operation = result.ok()
                conforms(operation, bearer(vendor) if operation.path == "/v1/events" else ADMIN)
        finally:
            asgi.shutdown_lifespans()


def conforms(operation: Any, headers: dict[str, str]) -> None:
    @given(case=operation.as_strategy())
    @settings(max_examples=8, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(headers=headers,
                               checks=[not_a_server_error, status_code_conformance, response_schema_conformance])

    run()
