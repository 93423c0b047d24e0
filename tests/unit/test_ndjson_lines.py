"""An NDJSON body's rows are its non-blank lines, in order, whether the body is split at once or counted line by
line (bodies of more lines than `SPLIT_LINES`); the count limits hold on both paths."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.decode import SPLIT_LINES, RequestRejected, ndjson_lines
from ingest.limits import MAX_EVENTS_PER_REQUEST

ASCII_WHITESPACE = b" \t\n\r\x0b\x0c"


def non_blank_lines(data: bytes) -> list[bytes]:
    """The definition, written out: the pieces between newlines that hold a byte other than ASCII whitespace."""
    return [line for line in data.split(b"\n") if any(byte not in ASCII_WHITESPACE for byte in line)]


@given(st.lists(st.binary(max_size=12) | st.sampled_from([b"", b" ", b"\t\r", b"\x0b\x0c ", b"{}", b" {} \r"]),
                min_size=1, max_size=40))
def test_rows_are_the_non_blank_lines(lines: list[bytes]) -> None:
    data = b"\n".join(lines)
    expected = non_blank_lines(data)
    if not expected:
        with pytest.raises(RequestRejected, match="no events"):
            ndjson_lines(data)
    else:
        assert ndjson_lines(data) == expected


def test_a_body_of_many_blank_lines_is_counted_with_the_same_rows() -> None:
    rows = [b'{"row": %d}' % n for n in range(10)]
    data = (b"\n" * 3_000 + b" \r\n" * 10).join(rows)  # 30,091 lines, past SPLIT_LINES
    assert data.count(b"\n") > SPLIT_LINES
    assert ndjson_lines(data) == rows


@pytest.mark.parametrize("blank", [b"", b"\n" * (SPLIT_LINES + 1)], ids=["split", "counted"])
def test_one_row_past_the_limit_is_413_on_both_paths(blank: bytes) -> None:
    rows = [b"{}"] * MAX_EVENTS_PER_REQUEST
    assert len(ndjson_lines(blank + b"\n".join(rows))) == MAX_EVENTS_PER_REQUEST
    with pytest.raises(RequestRejected) as refused:
        ndjson_lines(blank + b"\n".join([*rows, b"{}"]))
    assert refused.value.status == 413
    assert f"{MAX_EVENTS_PER_REQUEST + 1} events in one request" in refused.value.message
