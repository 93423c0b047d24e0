"""Turn a request body into rows: gunzip within limits, then a JSON array or NDJSON lines."""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from typing import Any

import orjson

from ingest.limits import MAX_BODY_BYTES, MAX_DECOMPRESSED_BYTES, MAX_EVENTS_PER_REQUEST

JSON_TYPES = {"application/json"}
NON_BLANK_LINE = re.compile(rb"^[ \t\r\f\v]*[^\s][^\n]*", re.MULTILINE)
MAX_COMMAS_PER_EVENT = 200  # an event has ten fields; the rest allows commas inside its strings
NDJSON_TYPES = {"application/x-ndjson", "application/ndjson", "application/jsonl", "application/jsonlines"}


class RequestRejected(Exception):
    """The whole request is refused; `status` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(slots=True)
class RawRow:
    """One row as sent: parsed JSON (`value`), or the reason it could not be parsed (`error`)."""

    value: Any = None
    error: str | None = None


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def inflate(body: bytes, content_encoding: str | None) -> bytes:
    """The body without its transfer compression, refusing oversize and gzip bombs.

    A gzip body may hold several members (RFC 1952, e.g. `cat a.gz b.gz`); all are read, and the size
    cap applies to their sum. Anything after the last member that is not another member is an error.
    """
    if len(body) > MAX_BODY_BYTES:
        raise RequestRejected(413, f"request body is {len(body)} bytes; the limit is {MAX_BODY_BYTES} bytes")
    encoding = (content_encoding or "identity").strip().lower()
    if encoding in {"", "identity"}:
        return body
    if encoding not in {"gzip", "x-gzip"}:
        raise RequestRejected(415, f"Content-Encoding {content_encoding!r} is not supported; use gzip or none")
    data = bytearray()
    remaining = body
    while remaining:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            data += inflater.decompress(remaining, MAX_DECOMPRESSED_BYTES + 1 - len(data))
        except zlib.error as exc:
            raise RequestRejected(400, f"body is not valid gzip: {exc}") from None
        if len(data) > MAX_DECOMPRESSED_BYTES or inflater.unconsumed_tail:
            raise RequestRejected(
                413, f"gzip body inflates past {MAX_DECOMPRESSED_BYTES} bytes, the limit for decompressed data"
            )
        if not inflater.eof:
            raise RequestRejected(400, "body is not valid gzip: the stream is truncated")
        remaining = inflater.unused_data
    return bytes(data)


def read(body: bytes, content_type: str | None, content_encoding: str | None) -> tuple[bool, bytes]:
    """Check the media type and inflate the body; returns (is NDJSON, the inflated body)."""
    kind = media_type(content_type)
    if kind not in JSON_TYPES and kind not in NDJSON_TYPES:
        raise RequestRejected(
            415, f"Content-Type {content_type!r} is not supported; use application/json or application/x-ndjson"
        )
    return kind in NDJSON_TYPES, inflate(body, content_encoding)


def rows(body: bytes, content_type: str | None, content_encoding: str | None) -> list[RawRow]:
    """Split a request into rows. JSON must be one array; NDJSON is one object per non-blank line."""
    is_ndjson, data = read(body, content_type, content_encoding)
    if is_ndjson:
        return [parse_line(line) for line in ndjson_lines(data)]
    return json_array(data)


def json_array(data: bytes) -> list[RawRow]:
    # An array of millions of tiny values fits in the size limit but would cost gigabytes once parsed:
    # no array of MAX_EVENTS_PER_REQUEST events has this many commas, so refuse before parsing.
    if data.count(b",") > MAX_COMMAS_PER_EVENT * MAX_EVENTS_PER_REQUEST:
        raise RequestRejected(413, f"the JSON body holds more values than {MAX_EVENTS_PER_REQUEST} events can")
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise RequestRejected(400, f"body is not valid JSON: {exc}") from None
    if not isinstance(parsed, list):
        raise RequestRejected(400, "a JSON body must be an array of events")
    _check_count(len(parsed))
    return [RawRow(value) for value in parsed]


def ndjson_lines(data: bytes) -> list[bytes]:
    """The non-blank lines of an NDJSON body, unparsed; a row's index is its place in this list."""
    lines, count = [], 0
    for match in NON_BLANK_LINE.finditer(data):  # never materialises the blank lines
        count += 1
        if count <= MAX_EVENTS_PER_REQUEST:
            lines.append(match.group())
        elif count > 2 * MAX_EVENTS_PER_REQUEST:
            raise RequestRejected(413, f"more than {2 * MAX_EVENTS_PER_REQUEST} events in one request; "
                                       f"the limit is {MAX_EVENTS_PER_REQUEST}")
    _check_count(count)
    return lines


def parse_line(line: bytes) -> RawRow:
    try:
        return RawRow(orjson.loads(line))
    except orjson.JSONDecodeError as exc:
        return RawRow(error=f"line is not valid JSON: {exc}")


def _check_count(count: int) -> None:
    if count > MAX_EVENTS_PER_REQUEST:
        raise RequestRejected(413, f"{count} events in one request; the limit is {MAX_EVENTS_PER_REQUEST}")
    if count == 0:
        raise RequestRejected(400, "the request holds no events")
