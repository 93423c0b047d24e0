"""Named limits of the ingestion API (documented in docs/INGESTION.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

MAX_EVENTS_PER_REQUEST = 10_000
"""More rows than this in one request answer 413."""

MAX_BODY_BYTES = 5 * 1024 * 1024
"""The request body as sent (compressed or not) may be at most 5 MiB; more answers 413."""

MAX_DECOMPRESSED_BYTES = 50 * 1024 * 1024
"""A gzip body may inflate to at most 50 MiB; decompression stops there and answers 413 (gzip bombs)."""

FUTURE_TOLERANCE = timedelta(minutes=5)
"""`ts` may be at most this far after the server's clock."""

EARLIEST_TS = datetime(2000, 1, 1, tzinfo=UTC)
"""`ts` before this instant is invalid."""

MAX_USER_CHARS = 128
MAX_DURATION_S = 86_400
MAX_BYTES = 10**12
