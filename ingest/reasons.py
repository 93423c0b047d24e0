"""The closed set of reasons an event row is rejected (documented in docs/INGESTION.md)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

UNREAD: Any = object()
"""`Rejection.sent` of a rejection raised before or without reading the row as plain JSON."""


class Reason(StrEnum):
    MALFORMED = "malformed"  # the row is not a JSON object (or its NDJSON line is not JSON)
    TOO_LARGE = "too_large"  # the row is longer than MAX_EVENT_BYTES: refused before it is parsed
    MISSING_FIELD = "missing_field"  # a required field is absent or null
    INVALID_FIELD = "invalid_field"  # a field has the wrong JSON type or value, or is not a known field
    UNKNOWN_PLATFORM = "unknown_platform"  # `platform` is not registered
    PLATFORM_NOT_ALLOWED = "platform_not_allowed"  # `platform` belongs to another vendor
    FUTURE_TIMESTAMP = "future_timestamp"  # `ts` is more than FUTURE_TOLERANCE after the server's clock
    MONTH_SEALED = "month_sealed"  # `ts` falls in a month whose pseudonym keys were destroyed


class Rejection(Exception):
    """One row's rejection: a reason from the closed set and a detail naming the field and problem; `sent` is the
    row read as plain JSON (None when it is not JSON) when the check that refused it had to read it so."""

    def __init__(self, reason: Reason, detail: str, field: str | None = None, sent: Any = UNREAD):
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.field = field
        self.sent = sent
