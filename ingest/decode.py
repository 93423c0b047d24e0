"""Turn a request body into rows: gunzip within limits, then a JSON array or NDJSON lines."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

import orjson

from ingest.limits import MAX_BODY_BYTES, MAX_DECOMPRESSED_BYTES, MAX_EVENTS_PER_REQUEST

JSON_TYPES = {"application/json"}
NDJSON_TYPES = {"application/x-ndjson", "application/ndjson", "application/jsonl", "application/jsonlines"}


class RequestRejected(Exception):
    """The whole request is refused; `status` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class RawRow:
    """One row as sent: parsed JSON (`value`), or the reason it could not be parsed (`error`)."""

    value: Any = None
    error: str | None = None


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def inflate(body: bytes, content_encoding: str | None) -> bytes:
    """The body without its transfer compression, refusing oversize and gzip bombs."""
    if len(body) > MAX_BODY_BYTES:
        raise RequestRejected(413, f"request body is {len(body)} bytes; the limit is {MAX_BODY_BYTES} bytes")
    encoding = (content_encoding or "identity").strip().lower()
    if encoding in {"", "identity"}:
        return body
    if encoding not in {"gzip", "x-gzip"}:
        raise RequestRejected(415, f"Content-Encoding {content_encoding!r} is not supported; use gzip or none")
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(body, MAX_DECOMPRESSED_BYTES + 1)
    except zlib.error as exc:
        raise RequestRejected(400, f"body is not valid gzip: {exc}") from None
    if len(data) > MAX_DECOMPRESSED_BYTES or inflater.unconsumed_tail:
        raise RequestRejected(
            413, f"gzip body inflates past {MAX_DECOMPRESSED_BYTES} bytes, the limit for decompressed data"
        )
    if not inflater.eof:
        raise RequestRejected(400, "body is not valid gzip: the stream is truncated")
    return data


def rows(body: bytes, content_type: str | None, content_encoding: str | None) -> list[RawRow]:
    """Split a request into rows. JSON must be one array; NDJSON is one object per non-blank line."""
    kind = media_type(content_type)
    if kind not in JSON_TYPES and kind not in NDJSON_TYPES:
        raise RequestRejected(
            415, f"Content-Type {content_type!r} is not supported; use application/json or application/x-ndjson"
        )
    data = inflate(body, content_encoding)
    if kind in JSON_TYPES:
        try:
            parsed = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise RequestRejected(400, f"body is not valid JSON: {exc}") from None
        if not isinstance(parsed, list):
            raise RequestRejected(400, "a JSON body must be an array of events")
        _check_count(len(parsed))
        return [RawRow(value) for value in parsed]
    lines = [line for line in data.split(b"\n") if line.strip()]
    _check_count(len(lines))
    out = []
    for line in lines:
        try:
            out.append(RawRow(orjson.loads(line)))
        except orjson.JSONDecodeError as exc:
            out.append(RawRow(error=f"line is not valid JSON: {exc}"))
    return out


def _check_count(count: int) -> None:
    if count > MAX_EVENTS_PER_REQUEST:
        raise RequestRejected(413, f"{count} events in one request; the limit is {MAX_EVENTS_PER_REQUEST}")
    if count == 0:
        raise RequestRejected(400, "the request holds no events")
