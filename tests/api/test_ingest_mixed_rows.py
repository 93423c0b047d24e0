"""A row's fate does not depend on the rows beside it: requests mixing rows of every kind, in any order, answer
each row with the reason written for its kind (None: accepted), whichever step refuses it. The steps decide a
request where every row passes for all its rows at once, and fall back to their per-row rules otherwise; this
checks that the fall-back gives every row its own answer."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import ADMIN, NDJSON, Api, api_on_fresh_store, event


def line(**fields: Any) -> bytes:
    return orjson.dumps(event(**fields))


def later(days: int) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


# kind -> (a fresh row of that kind, the reason it is answered with)
KINDS: dict[str, tuple[Callable[[], bytes], str | None]] = {
    "valid": (line, None),
    "valid, no province": (lambda: orjson.dumps(event(without=["province"])), None),
    "valid, other platform of the vendor": (lambda: line(platform="zingmp3", province="VN-SG"), None),
    "valid, April": (lambda: line(ts="2022-04-30T23:59:59+07:00"), None),
    "not JSON": (lambda: b"{not json", "malformed"),
    "not an object": (lambda: b"[1, 2]", "malformed"),
    "too large": (lambda: line(user="u" * 5_000), "too_large"),
    "no user": (lambda: orjson.dumps(event(without=["user"])), "missing_field"),
    "duration as a string": (lambda: line(duration_s="60"), "invalid_field"),
    "before 2000": (lambda: line(ts="1999-12-31T23:59:59Z"), "invalid_field"),
    "a day ahead": (lambda: line(ts=later(1)), "future_timestamp"),
    "unknown province": (lambda: line(province="VN-XX"), "invalid_field"),
    "province outside Vietnam": (lambda: line(country="TH"), "invalid_field"),
    "unregistered platform": (lambda: line(platform="nope"), "unknown_platform"),
    "another vendor's platform": (lambda: line(platform="mocha"), "platform_not_allowed"),
    "sealed month": (lambda: line(ts="2022-01-20T09:00:00+07:00"), "month_sealed"),
}


@pytest.fixture(scope="module")
def sealed_api(chdb_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Api, dict[str, str]]]:
    """Vendor 'vng' owns zalo and zingmp3, 'viettel' owns mocha; months before 2022-02 are sealed."""
    with api_on_fresh_store(chdb_dir, tmp_path_factory.mktemp("mixed")) as api:
        api.put_platform("zalo", "vng")
        api.put_platform("zingmp3", "vng", category="entertainment")
        api.put_platform("mocha", "viettel", category="social")
        assert api.client.post("/v1/admin/seal", json={"before": "2022-02"}, headers=ADMIN).status_code == 200
        yield api, api.vendor("vng")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kinds=st.lists(st.sampled_from(sorted(KINDS)), min_size=1, max_size=12))
def test_each_row_is_answered_for_its_own_kind(sealed_api: tuple[Api, dict[str, str]], kinds: list[str]) -> None:
    api, vng = sealed_api
    rows = [KINDS[kind][0]() for kind in kinds]
    response = api.client.post("/v1/events", content=b"\n".join(rows), headers={**vng, "Content-Type": NDJSON})
    assert response.status_code == 200, response.text
    answer = response.json()
    expected = [(index, KINDS[kind][1]) for index, kind in enumerate(kinds) if KINDS[kind][1] is not None]
    assert [(refused["index"], refused["reason"]) for refused in answer["rejected"]] == expected, kinds
    assert (answer["accepted"], answer["duplicates"]) == (len(kinds) - len(expected), 0)


def test_a_request_of_one_kind_of_each_in_turn(sealed_api: tuple[Api, dict[str, str]]) -> None:
    """Every kind once, in the order written, and the event ids of the rows answered."""
    api, vng = sealed_api
    rows = [KINDS[kind][0]() for kind in KINDS]
    answer = api.client.post("/v1/events", content=b"\n".join(rows), headers={**vng, "Content-Type": NDJSON}).json()
    sent_ids = [orjson.loads(row).get("event_id") if row.startswith(b"{\"") else None for row in rows]
    expected = [(index, sent_ids[index] if reason != "too_large" else None, reason)
                for index, (_, reason) in enumerate(KINDS.values()) if reason is not None]
    assert [(r["index"], r["event_id"], r["reason"]) for r in answer["rejected"]] == expected
    assert answer["accepted"] == 4
