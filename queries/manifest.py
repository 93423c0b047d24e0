"""The reproducibility manifest of a summary version: what its figures were made from.

Stored with the version (summaries.manifest, migration 0010) and written beside its files as
v<n>.manifest.json. `inputs` is known when the figures are gathered: per platform and month the rows
ingestion accepted, found duplicate and rejected (by reason) from `ingest_quality`, the seal state of each
month, the schema migration level, the software version and commit, a SHA-256 of each metric SQL file and
the settings that affect figures. `files` holds the SHA-256 of each output file of the version.
"""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Iterable, Mapping
from datetime import date
from functools import cache
from importlib import metadata, resources
from pathlib import Path
from typing import Any

from queries import sealing
from queries.periods import Period
from queries.store import Store

PACKAGE = "vnmeter"
GIT_TIMEOUT_S = 5


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sql_hashes() -> dict[str, str]:
    """SHA-256 of every metric SQL file (queries/sql/*.sql), by file name."""
    folder = resources.files("queries") / "sql"
    return {entry.name: sha256(entry.read_bytes()) for entry in sorted(folder.iterdir(), key=lambda e: e.name)
            if entry.name.endswith(".sql")}


@cache
def software() -> dict[str, Any]:
    """The package version and, when the code runs from a git checkout, its commit ('unknown' otherwise) and
    whether files differ from it."""
    try:
        version = metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        version = "unknown"
    root = Path(__file__).resolve().parent.parent
    try:
        commit = _git(root, "rev-parse", "HEAD")
        modified: bool | None = bool(_git(root, "status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        commit, modified = "unknown", None
    return {"package": PACKAGE, "version": version, "commit": commit, "modified": modified}


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,  # noqa: S607
                          timeout=GIT_TIMEOUT_S, check=True)
    return done.stdout.strip()


def migration_level(store: Store) -> int:
    rows = store.rows("SELECT max(version) FROM schema_migrations")
    return int(rows[0][0]) if rows else 0


def sealed_before(store: Store) -> date | None:
    """The first month still open to events, or None when no month was ever sealed."""
    watermark = sealing.sealed_before(store)
    return None if watermark == date.min else watermark


def ingestion_counts(store: Store, period: Period) -> dict[tuple[str, date], dict[str, Any]]:
    """Per (platform, event month) of the period: rows accepted, duplicate and rejected by reason, as the
    ingestion path counted them (platform '' for rows that named no platform of their vendor)."""
    rows = store.rows(
        "SELECT platform, event_month, toString(outcome), reason, sum(events) FROM ingest_quality "
        "WHERE event_month BETWEEN {first:Date} AND {last:Date} "
        "GROUP BY platform, event_month, outcome, reason ORDER BY platform, event_month, outcome, reason",
        {"first": period.start, "last": period.months[-1]})
    counts: dict[tuple[str, date], dict[str, Any]] = {}
    for platform, month, outcome, reason, events in rows:
        entry = counts.setdefault((platform, month), {"accepted": 0, "duplicate": 0, "rejected": {}})
        if outcome == "rejected":
            entry["rejected"][reason] = entry["rejected"].get(reason, 0) + int(events)
        else:
            entry[outcome] += int(events)
    return counts


def build_inputs(store: Store, period: Period, platforms: Iterable[str],
                 settings: Mapping[str, Any]) -> dict[str, Any]:
    """The manifest's `inputs`: everything the version's figures depend on besides the events themselves."""
    sealed = sealed_before(store)
    counts = ingestion_counts(store, period)
    months = []
    for platform in sorted({*platforms, *(pid for pid, _ in counts)}):
        for month in period.months:
            entry = counts.get((platform, month), {"accepted": 0, "duplicate": 0, "rejected": {}})
            months.append({"platform": platform, "month": f"{month:%Y-%m}", **entry,
                           "sealed": sealed is not None and month < sealed})
    return {
        "period": period.label,
        "months": months,
        "sealed_before": f"{sealed:%Y-%m}" if sealed else None,
        "schema_migration": migration_level(store),
        "software": software(),
        "sql_sha256": sql_hashes(),
        "settings": dict(settings),
    }


def differences(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> list[dict[str, Any]]:
    """How the way of making figures changed between two versions' inputs: settings, software, schema,
    SQL (not the data counts, which the figures' own changes show)."""
    if not before:
        return []
    found = []
    for part in ("settings", "software", "sql_sha256"):
        old, new = before.get(part) or {}, after.get(part) or {}
        for name in sorted(old.keys() | new.keys()):
            if old.get(name) != new.get(name):
                found.append({"what": f"{part}.{name}", "before": old.get(name), "after": new.get(name)})
    if before.get("schema_migration") != after.get("schema_migration"):
        found.append({"what": "schema_migration", "before": before.get("schema_migration"),
                      "after": after.get("schema_migration")})
    return found
