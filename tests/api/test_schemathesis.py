"""Schema-driven fuzzing: schemathesis generates requests for every operation of the app's OpenAPI
spec, valid (positive) and invalid (negative) ones, and no answer may be a server error (5xx).

Requests carry an admin key, except POST /v1/events, which carries a vendor key (admins may not post
events, so an admin key would stop every generated body at the role check). Examples are bounded so
the module runs in about a minute. The operations are listed at collection time from the app's spec
(an app that is never started); the requests go to a started app on a fresh database.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.generation import GenerationMode
from schemathesis.python import asgi
from schemathesis.schemas import APIOperation

from service.app import create_app
from service.settings import Settings
from tests.factories import ADMIN, ADMIN_KEY, bearer, fresh_store, platform_body

EXAMPLES = {GenerationMode.POSITIVE: 60, GenerationMode.NEGATIVE: 40}
CASES_RUN: Counter[str] = Counter()  # per generation mode, printed at the end (pytest -s)
SPEC = create_app(Settings(data_dir=Path("unused"), admin_key=ADMIN_KEY)).openapi()
OPERATIONS = sorted(f"{method.upper()} {path}" for path, item in SPEC["paths"].items() for method in item)


class Fuzzed:
    """The started app's schema, its operations by label, and the headers each operation is sent with."""

    def __init__(self, schema: Any, vendor_key: str):
        self.operations: dict[str, APIOperation] = {}
        for result in schema.get_all_operations():
            assert isinstance(result, Ok), result
            operation = result.ok()
            self.operations[f"{operation.method.upper()} {operation.path}"] = operation
        self.vendor = bearer(vendor_key)

    def headers(self, label: str) -> dict[str, str]:
        return self.vendor if label == "POST /v1/events" else ADMIN


@pytest.fixture(scope="module")
def fuzzed(chdb_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzed]:
    with fresh_store(chdb_dir) as store:
        app = create_app(Settings(data_dir=tmp_path_factory.mktemp("schemathesis"), admin_key=ADMIN_KEY,
                                  rate_limit_rps=100_000, rate_limit_burst=1_000_000), store=store)
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)  # starts the app's lifespan
        try:
            with asgi.get_client(app) as client:  # type: ignore[arg-type]
                vendor = client.post("/v1/keys", json={"role": "vendor", "vendor": "sv"}, headers=ADMIN)
                assert vendor.status_code == 201, vendor.text
                assert client.put("/v1/platforms/sp", json=platform_body("sv"), headers=ADMIN).status_code == 200
            yield Fuzzed(schema, vendor.json()["key"])
        finally:
            asgi.shutdown_lifespans()
            print(f"\nschemathesis cases run: {sum(CASES_RUN.values())} {dict(CASES_RUN)}; 5xx seen: 0 unless a test "
                  "failed")


def test_every_operation_is_fuzzed(fuzzed: Fuzzed) -> None:
    assert sorted(fuzzed.operations) == OPERATIONS
    assert "POST /v1/events" in OPERATIONS


@pytest.mark.parametrize("mode", list(EXAMPLES), ids=lambda m: m.value)
@pytest.mark.parametrize("label", OPERATIONS)
def test_no_server_errors(fuzzed: Fuzzed, label: str, mode: GenerationMode) -> None:
    operation = fuzzed.operations[label]
    headers = fuzzed.headers(label)

    @given(case=operation.as_strategy(mode))
    @settings(max_examples=EXAMPLES[mode], deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
    def run(case: schemathesis.Case) -> None:
        CASES_RUN[mode.value] += 1
        case.call_and_validate(headers=headers, checks=[not_a_server_error])

    try:
        run()
    except Unsatisfiable:
        if mode is GenerationMode.NEGATIVE:  # no parameter or body whose schema can be violated
            pytest.skip(f"{label} takes no input that its spec could call invalid")
        raise
