"""Named limits of the ingestion API (documented in docs/INGESTION.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

MAX_EVENTS_PER_REQUEST = 10_000
"""More rows than this in one request answer 413."""

MAX_BODY_BYTES = 5 * 1024 * 1024
"""The request body as sent (compressed or not) may be at most 5 MiB; more answers 413."""

MAX_EVENT_BYTES = 4096
"""One event (an NDJSON line) may be at most this many bytes; a longer line is refused before it is parsed. The
longest event the grammar accepts, every field at its maximum and every string character written as a JSON
escape (a user id of 128 characters outside the BMP is 1,536 bytes), stays under it."""

MAX_DECOMPRESSED_BYTES = MAX_EVENTS_PER_REQUEST * (MAX_EVENT_BYTES + 1)
"""A gzip body may inflate to at most the largest valid batch (10,000 events of MAX_EVENT_BYTES and their
newlines: 40,970,000 bytes); decompression stops there and answers 413 (gzip bombs)."""

FUTURE_TOLERANCE = timedelta(minutes=5)
"""`ts` may be at most this far after the server's clock."""

EARLIEST_TS = datetime(2000, 1, 1, tzinfo=UTC)
"""`ts` before this instant is invalid."""

MAX_PLATFORM_CHARS = 64
"""A platform id is at most this long (queries.registry.PLATFORM_ID)."""

MAX_USER_CHARS = 128
MAX_DURATION_S = 86_400
MAX_BYTES = 10**12
