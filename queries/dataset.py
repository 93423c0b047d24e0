"""What a store holds, as the dashboard needs it: the months with usage figures and the demo's scale factors."""

from __future__ import annotations

import json
from collections.abc import Collection

from queries.store import Store

DEMO_SCALE_STATE = "demo_scale"
"""The service_state row `vnmeter demo` writes: JSON {"users": n, "visits": m}."""


def demo_scale(store: Store) -> dict[str, int] | None:
    """The scale factors `vnmeter demo` recorded in this store (1 stored user stands for `users`), or None."""
    rows = store.rows("SELECT argMax(value, updated_at) FROM service_state WHERE name = {name:String} "
                      "HAVING count() > 0", {"name": DEMO_SCALE_STATE})
    if not rows or not rows[0][0]:
        return None
    value = json.loads(rows[0][0])
    return {"users": int(value["users"]), "visits": int(value["visits"])}


def months_with_usage(store: Store, platforms: Collection[str] | None = None) -> list[str]:
    """The months ('YYYY-MM', oldest first) with sessions of any of `platforms` (all when None)."""
    rows = store.rows(
        "SELECT DISTINCT formatDateTime(toStartOfMonth(day), '%Y-%m') AS m FROM platform_daily "
        "WHERE sessions > 0 AND ({all:Bool} OR platform IN {platforms:Array(String)}) ORDER BY m",
        {"all": platforms is None, "platforms": sorted(platforms or ())})
    return [row[0] for row in rows]
