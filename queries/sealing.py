"""The sealing watermark as stored: months before it are sealed (their pseudonym keys destroyed).

`service_state` holds one row per seal, named `sealed_before/YYYY-MM-DD` (so two seals at once both stay); a bare
`sealed_before` row is from before 2026-12. The watermark is the latest month of any of them, and never moves
back. Written by `ingest.seal.seal`; read here by everything that reports it.
"""

from __future__ import annotations

from datetime import date

from queries.store import Store

SEALED_BEFORE = "sealed_before"
"""Name (and prefix of the names) of the watermark rows."""


def sealed_before(store: Store) -> date:
    """The first month that is not sealed, read from storage (no cache); date.min when nothing is sealed."""
    value = store.rows("SELECT max(value) FROM service_state WHERE startsWith(name, {n:String})",
                       {"n": SEALED_BEFORE})
    text = value[0][0] if value else ""
    return date.fromisoformat(text) if text else date.min
