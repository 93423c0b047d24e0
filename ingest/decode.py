"""Turn a request body into rows: gunzip within limits, then the elements of a JSON array or the lines of
NDJSON, each still as its JSON text (the `decode` step parses each row on its own)."""

from __future__ import annotations

import re

import msgspec
from isal import isal_zlib

from ingest.limits import MAX_BODY_BYTES, MAX_DECOMPRESSED_BYTES, MAX_EVENTS_PER_REQUEST

JSON_TYPES = {"application/json"}
NON_BLANK_LINE = re.compile(rb"^[ \t\r\f\v]*[^\s][^\n]*", re.MULTILINE)
_json_array = msgspec.json.Decoder(list[msgspec.Raw]).decode
# Splitting a body at every newline would make one object per line, millions for a body of blank lines: bodies
# of more lines than this are counted by NON_BLANK_LINE instead.
SPLIT_LINES = 2 * MAX_EVENTS_PER_REQUEST
MAX_COMMAS_PER_EVENT = 200  # an event has ten fields; the rest allows commas inside its strings
NDJSON_TYPES = {"application/x-ndjson", "application/ndjson", "application/jsonl", "application/jsonlines"}


class RequestRejected(Exception):
    """The whole request is refused; `status` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


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
    parts: list[bytes] = []
    size = 0
    remaining = body
    while remaining:
        inflater = isal_zlib.decompressobj(16 + isal_zlib.MAX_WBITS)
        try:
            part = inflater.decompress(remaining, MAX_DECOMPRESSED_BYTES + 1 - size)
        except isal_zlib.error as exc:  # type: ignore[misc]  # (isal 1.9 types `error` as an instance)
            raise RequestRejected(400, f"body is not valid gzip: {exc}") from None
        size += len(part)
        if size > MAX_DECOMPRESSED_BYTES or inflater.unconsumed_tail:
            raise RequestRejected(
                413, f"gzip body inflates past {MAX_DECOMPRESSED_BYTES} bytes, the limit for decompressed data"
            )
        if not inflater.eof:
            raise RequestRejected(400, "body is not valid gzip: the stream is truncated")
        parts.append(part)
        remaining = inflater.unused_data
    return b"".join(parts)  # one member (the usual body) is returned as inflated, not copied


def read(body: bytes, content_type: str | None, content_encoding: str | None) -> tuple[bool, bytes]:
    """Check the media type and inflate the body; returns (is NDJSON, the inflated body)."""
    kind = media_type(content_type)
    if kind not in JSON_TYPES and kind not in NDJSON_TYPES:
        raise RequestRejected(
            415, f"Content-Type {content_type!r} is not supported; use application/json or application/x-ndjson"
        )
    return kind in NDJSON_TYPES, inflate(body, content_encoding)


def json_array(data: bytes) -> list[bytes]:
    """The elements of a JSON array body, each still as its JSON text (decoded one by one by the steps)."""
    # An array of millions of tiny values fits in the size limit but would cost gigabytes once split:
    # no array of MAX_EVENTS_PER_REQUEST events has this many commas, so refuse before parsing.
    if data.count(b",") > MAX_COMMAS_PER_EVENT * MAX_EVENTS_PER_REQUEST:
        raise RequestRejected(413, f"the JSON body holds more values than {MAX_EVENTS_PER_REQUEST} events can")
    try:
        elements = _json_array(data)
    except msgspec.ValidationError:
        raise RequestRejected(400, "a JSON body must be an array of events") from None
    except msgspec.DecodeError as exc:
        raise RequestRejected(400, f"body is not valid JSON: {exc}") from None
    except RecursionError:
        raise RequestRejected(400, "body is not valid JSON: nested too deeply") from None
    _check_count(len(elements))
    return [bytes(element) for element in elements]


def ndjson_lines(data: bytes) -> list[bytes]:
    """The non-blank lines of an NDJSON body, unparsed; a row's index is its place in this list."""
    lines = data.split(b"\n", SPLIT_LINES)  # at most SPLIT_LINES + 1 pieces, whatever the body
    if len(lines) > SPLIT_LINES:
        return _count_lines(data)
    lines = list(filter(bytes.strip, lines))  # bytes.strip drops the whitespace that regex's \s matches
    _check_count(len(lines))
    return lines


def _count_lines(data: bytes) -> list[bytes]:
    """`ndjson_lines` of a body of more lines than SPLIT_LINES, most of which must be blank or too many: counted
    one match at a time, never materialising a blank line, refused as soon as the count is past hope."""
    lines, count = [], 0
    for match in NON_BLANK_LINE.finditer(data):
        count += 1
        if count <= MAX_EVENTS_PER_REQUEST:
            lines.append(match.group())
        elif count > 2 * MAX_EVENTS_PER_REQUEST:
            raise RequestRejected(413, f"more than {2 * MAX_EVENTS_PER_REQUEST} events in one request; "
                                       f"the limit is {MAX_EVENTS_PER_REQUEST}")
    _check_count(count)
    return lines


def _check_count(count: int) -> None:
    if count > MAX_EVENTS_PER_REQUEST:
        raise RequestRejected(413, f"{count} events in one request; the limit is {MAX_EVENTS_PER_REQUEST}")
    if count == 0:
        raise RequestRejected(400, "the request holds no events")
