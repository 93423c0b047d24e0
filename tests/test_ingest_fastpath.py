"""The C fast path (ingest/_fast.c) against the Python steps, row for row.

The fast path may only ever take a row the Python steps accept, and must then store exactly the row
they store; every other row must come back as None (the Python steps then decide it). Hypothesis
writes lines in many JSON spellings, valid and not, and random byte mutations of valid lines.
"""

from __future__ import annotations

import hashlib
import json
import random
import uuid
from concurrent.futures import Future
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest import fastpath
from ingest.decode import parse_line
from ingest.fastpath import Scanner, StoredRow
from ingest.pipeline import Ingestor
from ingest.reasons import Reason, Rejection
from ingest.write import WriteResult
from queries.registry import Platform

pytestmark = pytest.mark.skipif(not fastpath.AVAILABLE, reason="the C fast path was not built")

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
VN = ZoneInfo("Asia/Ho_Chi_Minh")
VENDOR = "vng"
PLATFORMS = {
    "zalo": Platform("zalo", "Zalo", "vng", "vn", "communication", "app", None),
    "zing-mp3": Platform("zing-mp3", "Zing MP3", "vng", "vn", "entertainment", "app", None),
    "facebook": Platform("facebook", "Facebook", "meta", "foreign", "social", "app", None),
}
PROVINCES = {"VN-HN": "Hà Nội", "VN-SG": "Hồ Chí Minh", "VN-26": "Thừa Thiên Huế"}
SEALED_BEFORE = date(2022, 1, 1)


class Keys:
    """A key per (platform, month) derived from its name, refusing sealed months like KeyStore."""

    def __init__(self, sealed_before: date = SEALED_BEFORE, broken: bool = False):
        self.sealed = sealed_before
        self.broken = broken

    def sealed_before(self) -> date:
        return self.sealed

    def check_open(self, month: date) -> None:
        if month < self.sealed:
            raise Rejection(Reason.MONTH_SEALED, f"ts: month {month:%Y-%m} is sealed", "ts")

    def key(self, platform: str, month: date) -> bytes:
        if self.broken:
            raise ConnectionError("key store unavailable (simulated)")
        self.check_open(month)
        return hashlib.sha256(f"{platform}/{month}".encode()).digest()


def ingestor(zone: ZoneInfo = VN, keys: Keys | None = None) -> Ingestor:
    return Ingestor(registry=None, keys=keys or Keys(), writer=None, zone=zone, clock=lambda: NOW)  # type: ignore[arg-type]


def scanner(zone: ZoneInfo = VN, keys: Keys | None = None) -> Scanner:
    keys = keys or Keys()
    own = [p for p, registered in PLATFORMS.items() if registered.vendor == VENDOR]
    return Scanner(own, PROVINCES.keys(), keys.sealed_before(), NOW, zone, keys.key)


def python_steps(line: bytes, zone: ZoneInfo = VN, keys: Keys | None = None) -> StoredRow | Rejection:
    keys = keys or Keys()
    try:
        return ingestor(zone, keys).steps(parse_line(line), PROVINCES.keys(), PLATFORMS, VENDOR, NOW,
                                          keys.sealed_before())
    except Rejection as rejection:
        return rejection


def check_line(line: bytes, zone: ZoneInfo = VN, keys: Keys | None = None) -> StoredRow | None:
    """The fast path's answer for one line, asserted against the Python steps."""
    fast = scanner(zone, keys).scan([line])[0]
    if fast is not None:
        assert python_steps(line, zone, keys) == fast, line
    return fast


# -- hand-computed rows ----------------------------------------------------------------------------

def test_plain_line_is_taken_with_the_hand_computed_row() -> None:
    line = (b'{"event_id":"0A1B2C3D-0000-4000-8000-00000000002A","platform":"zalo","user":"u-1",'
            b'"ts":"2022-03-31T17:30:00.1239Z","duration_s":60,"bytes":1000,"os":"ios"}')
    row = check_line(line)
    # 17:30 UTC on 31 March is 00:30 on 1 April in Vietnam: day 19083 since 1970-01-01;
    # 1,648,747,800 s since 1970 and .1239 s, floored to milliseconds: 1,648,747,800,123 ms
    key = hashlib.sha256(b"zalo/2022-04-01").digest()
    pseudo = hashlib.blake2b(b"u-1", key=key, digest_size=16).hexdigest()
    assert row == ("zalo", str(0x0A1B2C3D000040008000_00000000002A),
                   b'["zalo","0a1b2c3d-0000-4000-8000-00000000002a","' + pseudo.encode()
                   + b'","session",1648747800123,19083,60,1000,"VN","","ios"]')


@pytest.mark.parametrize(("event_id", "decimal"), [
    ("00000000-0000-0000-0000-000000000000", "0"),
    ("00000000-0000-0000-0000-00000000000A", "10"),
    ("FFFFFFFF-ffff-FFFF-ffff-FFFFFFFFFFFF", "340282366920938463463374607431768211455"),  # 2^128 - 1, 39 digits
    ("80000000-0000-0000-0000-000000000000", "170141183460469231731687303715884105728"),  # 2^127
])
def test_the_id_is_the_decimal_of_its_128_bit_value(event_id: str, decimal: str) -> None:
    line = (b'{"event_id":"' + event_id.encode() + b'","platform":"zalo","user":"u-1",'
            b'"ts":"2022-04-01T00:00:00Z"}')
    row = check_line(line)
    assert row is not None and row[1] == decimal


def test_offsets_defaults_and_every_optional_field() -> None:
    line = (b' { "event_id" : "00000000-0000-4000-8000-000000000001" , "platform":"zing-mp3", "user":"A",'
            b'"type":"install","ts":"2022-04-01T06:59:59-01:00","country":"VN","province":"VN-26",'
            b'"os":null,"duration_s":null,"bytes":0}\r')
    row = check_line(line)
    assert row is not None
    # 06:59:59 at -01:00 is 07:59:59 UTC = 14:59:59 in Vietnam, still 1 April (day 19083)
    assert row[2].endswith(b'","install",1648799999000,19083,0,0,"VN","VN-26",""]')


@pytest.mark.parametrize("line", [
    b'{"event_id":"00000000-0000-4000-8000-000000000001","platform":"facebook","user":"u","ts":"2022-04-01T00:00:00Z"}',
    b'{"event_id":"00000000-0000-4000-8000-000000000001","platform":"nope","user":"u","ts":"2022-04-01T00:00:00Z"}',
    b'{"event_id":"00000000-0000-4000-8000-000000000001","platform":"zalo","user":"u","ts":"2021-12-31T12:00:00Z"}',
    b'{"event_id":"00000000-0000-4000-8000-000000000001","platform":"zalo","user":"u","ts":"2026-11-23T12:05:00.000001Z"}',
    b'{"event_id":"00000000-0000-4000-8000-000000000001","platform":"zalo","user":"u\\u0041","ts":"2022-04-01T00:00:00Z"}',
    b'{"event_id":"00000000-0000-4000-8000-000000000001","platform":"zalo","user":"u","ts":"2022-04-01T00:00:00Z","x":1}',
    b'{"event_id":"00000000-0000-4000-8000-000000000001","platform":"zalo","user":"u","ts":"2022-04-01T00:00:00Z",'
    b'"duration_s":-0}',
    b'{"event_id":"00000000-0000-4000-8000-000000000001","platform":"zalo","user":"u","ts":"2022-02-29T00:00:00Z"}',
    b'{"event_id":"00000000-0000-4000-8000-000000000001","platform":"zalo","user":"u","ts":"2022-04-01 00:00:00Z"}',
    b'{"event_id":"00000000-0000-4000-8000-000000000001","platform":"zalo","user":"u","user":"v",'
    b'"ts":"2022-04-01T00:00:00Z"}',
    '{"event_id":"00000000-0000-4000-8000-000000000001","platform":"zalo","user":"ngườidùng",'
    '"ts":"2022-04-01T00:00:00Z"}'.encode(),
])
def test_rows_outside_the_plain_form_go_to_the_python_steps(line: bytes) -> None:
    """Another vendor's or an unknown platform, a sealed month, 1 µs past the future limit, an escape,
    an unknown field, -0, 29 February 2022, a space separator, a repeated field, non-ASCII text."""
    assert check_line(line) is None


def test_the_future_limit_is_exact_to_the_microsecond() -> None:
    line = (b'{"event_id":"00000000-0000-4000-8000-000000000001","platform":"zalo","user":"u",'
            b'"ts":"2026-11-23T12:05:00.000000Z"}')
    assert check_line(line) is not None  # exactly now + 5 minutes is allowed; 1 µs more is not (above)


def test_a_key_store_failure_leaves_the_row_to_the_python_steps() -> None:
    line = (b'{"event_id":"00000000-0000-4000-8000-000000000001","platform":"zalo","user":"u",'
            b'"ts":"2022-04-01T00:00:00Z"}')
    broken = Keys(broken=True)
    assert scanner(keys=broken).scan([line]) == [None]
    with pytest.raises(ConnectionError):  # ... which raise it (the request answers 503)
        python_steps(line, keys=broken)


def test_pseudonym_is_keyed_blake2b() -> None:
    rng = random.Random(5)
    for length in range(1, 129):
        user, key = rng.randbytes(length), rng.randbytes(32)
        assert fastpath._fast.pseudonym(user, key) == hashlib.blake2b(user, key=key, digest_size=16).hexdigest()


# -- time zones ------------------------------------------------------------------------------------

@pytest.mark.parametrize("zone_name", ["Asia/Ho_Chi_Minh", "Europe/Berlin", "America/Santiago", "Australia/Lord_Howe",
                                       "Pacific/Apia", "UTC"])
def test_local_day_matches_zoneinfo_around_every_offset_change(zone_name: str) -> None:
    """Each offset change of the zone since 2000 (and instants a second either side of it and of local
    midnights) gives the calendar day zoneinfo gives."""
    zone = ZoneInfo(zone_name)
    table = fastpath.zone_for(zone, NOW)
    values = memoryview(table).cast("q")
    changes = [values[i] for i in range(3, len(values), 2)][:60]
    instants = [datetime(2000, 1, 1, tzinfo=UTC) + timedelta(hours=587.5 * k, seconds=k % 7) for k in range(400)]
    for change in changes:
        for delta in (-3601, -1, 0, 1, 3599):
            instants.append(datetime.fromtimestamp(change + delta, UTC))
    instants = [t for t in instants if datetime(2000, 1, 1, tzinfo=UTC) <= t <= NOW]
    lines = [orjson_line(t) for t in instants]
    keys = Keys(sealed_before=date.min)
    rows = scanner(zone, keys).scan(lines)
    for t, line, row in zip(instants, lines, rows, strict=True):
        assert row is not None, t
        day = int(row[2].split(b",")[5])
        assert date(1970, 1, 1) + timedelta(days=day) == t.astimezone(zone).date(), t
        assert python_steps(line, zone, keys) == row


def orjson_line(ts: datetime) -> bytes:
    return json.dumps({"event_id": "00000000-0000-4000-8000-000000000001", "platform": "zalo", "user": "u",
                       "ts": ts.isoformat().replace("+00:00", "Z")}).encode()


# -- generated lines -------------------------------------------------------------------------------

def texts(*valid: str) -> st.SearchStrategy[Any]:
    return st.one_of(st.sampled_from(valid), st.text(max_size=12), st.none(), st.integers(-2, 2), st.booleans())


def timestamps(start: datetime, end: datetime, fractions: list[str], offsets: list[str | None], seps: str,
               zulus: str) -> st.SearchStrategy[str]:
    return st.builds(
        lambda t, fraction, offset, sep, zulu: (t.strftime(f"%Y-%m-%d{sep}%H:%M:%S") + fraction
                                               + (zulu if offset is None else offset)),
        st.datetimes(start, end), st.sampled_from(fractions), st.sampled_from(offsets), st.sampled_from(seps),
        st.sampled_from(zulus))


ascii_text = st.characters(min_codepoint=32, max_codepoint=126)
integers = st.one_of(st.integers(0, 100), st.integers(86_399, 86_401), st.integers(10**12 - 1, 10**12 + 1),
                     st.integers(-5, -1), st.floats(0, 10), st.text(max_size=3), st.none())
# each field: (the value of a valid row, anything); a line takes the first mostly
FIELDS: dict[str, tuple[st.SearchStrategy[Any], st.SearchStrategy[Any]]] = {
    "event_id": (st.uuids().map(str), st.one_of(st.uuids().map(lambda u: str(u).upper()), st.text(max_size=40))),
    "platform": (st.sampled_from(["zalo", "zing-mp3"]), texts("facebook", "tiktok", "zalo ")),
    "user": (st.text(alphabet=ascii_text, min_size=1, max_size=128),
             st.one_of(st.text(max_size=130), st.text(alphabet="ab", min_size=127, max_size=130))),
    "type": (st.sampled_from(["session", "install", None]), texts("Session", "")),
    "ts": (timestamps(datetime(2021, 12, 25), datetime(2026, 11, 23, 12, 10), ["", ".5", ".123", ".123456"],
                      [None, "+07:00", "-05:30", "+00:00"], "T", "Z"),
           st.one_of(timestamps(datetime(1999, 12, 31), datetime(2026, 11, 24),
                                ["", ".1234567", ".123456789", ".1234567891", "."],
                                [None, "-00:00", "+23:59", "+24:00", "+07:60", "+0700", "+07"], "Tt ", "Zz"),
                     st.text(max_size=30))),
    "duration_s": (st.integers(0, 86_400), integers),
    "bytes": (st.integers(0, 10**12), integers),
    "country": (st.sampled_from(["VN", "US", None]), texts("vn", "XX")),
    "province": (st.sampled_from(["VN-HN", "VN-26", None]), texts("VN-99", "vn-hn")),
    "os": (st.sampled_from(["android", "ios", "web", "other", None]), texts("linux", "")),
    "extra": (st.integers(), st.integers()),
}
OPTIONAL = ["type", "duration_s", "bytes", "country", "province", "os"]


@st.composite
def lines(draw: st.DrawFn) -> bytes:
    names = ["event_id", "platform", "user", "ts"]
    names += draw(st.lists(st.sampled_from(OPTIONAL), unique=True))
    if draw(st.integers(0, 9)) == 0:
        names.remove(draw(st.sampled_from(names)))
    if draw(st.integers(0, 9)) == 0:
        names.append("extra")
    space = draw(st.sampled_from(["", "", " ", "\t", "  "]))
    parts = []
    for name in draw(st.permutations(names)):
        valid, anything = FIELDS[name]
        value = draw(anything if draw(st.integers(0, 7)) == 0 else valid)
        rendered = json.dumps(value, ensure_ascii=draw(st.booleans()))
        parts.append(f'{space}"{name}"{space}:{space}{rendered}{space}')
    if draw(st.integers(0, 20)) == 0 and parts:
        parts.append(parts[0])  # a repeated field
    return ("{" + ",".join(parts) + "}").encode()


@settings(max_examples=3000, deadline=None, suppress_health_check=list(HealthCheck))
@given(lines())
def test_generated_lines_agree_with_the_python_steps(line: bytes) -> None:
    check_line(line)


def valid_line(rng: random.Random) -> bytes:
    ts = datetime(2022, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randrange(4 * 365 * 86400))
    return json.dumps({"event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                       "platform": rng.choice(["zalo", "zing-mp3"]), "user": f"user-{rng.randrange(10**6)}",
                       "ts": ts.isoformat().replace("+00:00", "Z"), "duration_s": rng.randrange(86_401),
                       "bytes": rng.randrange(10**12 + 1), "province": rng.choice(["VN-HN", "VN-26"]),
                       "os": rng.choice(["android", "ios"])}, separators=(",", ":")).encode()


def test_random_mutations_of_valid_lines_agree_with_the_python_steps() -> None:
    rng = random.Random(11)
    taken = 0
    for _ in range(20_000):
        line = bytearray(valid_line(rng))
        for _ in range(rng.randrange(1, 4)):
            position = rng.randrange(len(line))
            action = rng.randrange(3)
            if action == 0:
                line[position] = rng.randrange(256)
            elif action == 1:
                del line[position]
            else:
                line.insert(position, rng.choice(b'",:{}[]\\0123456789 -.eE\x00\xff'))
        taken += check_line(bytes(line)) is not None
    assert 0 < taken < 20_000  # some mutations keep a valid row (a changed digit), most do not


def test_valid_lines_are_all_taken() -> None:
    rng = random.Random(3)
    lines_ = [valid_line(rng) for _ in range(2_000)]
    rows = scanner().scan(lines_)
    assert all(row is not None for row in rows)
    for line, row in zip(lines_[:200], rows[:200], strict=True):
        assert python_steps(line) == row


# -- the pipeline with and without the fast path ---------------------------------------------------

class Registry:
    def platforms(self) -> dict[str, Platform]:
        return PLATFORMS

    def provinces(self) -> dict[str, str]:
        return PROVINCES


class CapturingWriter:
    def __init__(self) -> None:
        self.rows: list[StoredRow] = []

    def submit(self, rows: list[StoredRow]) -> Future[WriteResult]:
        self.rows.extend(rows)
        future: Future[WriteResult] = Future()
        future.set_result(WriteResult(len(rows), 0))
        return future


def test_a_mixed_request_gives_the_same_answer_and_rows_with_and_without_the_fast_path() -> None:
    rng = random.Random(8)
    lines_ = [valid_line(rng) for _ in range(40)]
    lines_ += [b'{"event_id":"00000000-0000-4000-8000-0000000000aa","platform":"zalo","user":"\\u00e9",'
               b'"ts":"2022-04-01t00:00:00z"}',  # valid, but escaped and lower-case: the Python steps take it
               b'{"event_id":"x","platform":"zalo","user":"u","ts":"2022-04-01T00:00:00Z"}',  # invalid_field
               b'{"platform":"zalo","user":"u","ts":"2022-04-01T00:00:00Z"}',  # missing_field
               b'{"event_id":"00000000-0000-4000-8000-0000000000ab","platform":"facebook","user":"u",'
               b'"ts":"2022-04-01T00:00:00Z"}',  # platform_not_allowed
               b'{"event_id":"00000000-0000-4000-8000-0000000000ac","platform":"zalo","user":"u",'
               b'"ts":"2021-04-01T00:00:00Z"}',  # month_sealed
               b'not json']  # malformed
    rng.shuffle(lines_)
    body = b"\n".join(lines_)
    answers = []
    for fast in (True, False):
        writer = CapturingWriter()
        pipeline = Ingestor(Registry(), Keys(), writer, VN, clock=lambda: NOW, fast_path=fast)  # type: ignore[arg-type]
        result = pipeline.ingest(body, "application/x-ndjson", None, VENDOR)
        answers.append((result.as_dict(), writer.rows))
    assert answers[0] == answers[1]
    result, rows = answers[0]
    assert result["accepted"] == len(rows) == 41
    assert sorted(r["reason"] for r in result["rejected"]) == [
        "invalid_field", "malformed", "missing_field", "month_sealed", "platform_not_allowed"]
