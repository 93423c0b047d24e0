"""Period summaries: gather a period's figures from `queries.metrics` and store them as immutable versions.

A summary version holds the figures it was made from (one JSON document) and what changed against the
version before it. Versions are never updated: generating again inserts version max + 1, serialised by
one in-process lock, so late events change the next version, never a stored one.
"""

from __future__ import annotations

import math
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

import orjson

from queries import manifest, metrics, present
from queries.disclosure import DEFAULT_MIN_CELL_USERS
from queries.figures import compare, rank, summarise
from queries.periods import Period, parse_period
from queries.registry import CATEGORIES, Registry
from queries.store import Store

TRIGGERS = ("cli", "api", "schedule")
LARGE_CHANGE = 0.30
"""A year-on-year change at least this large (either way) gets its own sentence."""
DATA_SHARE_CATEGORY = "communication"
DATA_SHARE_TOP = 5
BAND_EDGES = (1_000_000, 5_000_000)

PLATFORM_FIGURES = ("mau_avg", "mau_peak", "minutes_per_user_day", "mb_per_user_month", "sessions_per_month",
                    "hours_per_user_month", "installs", "rank")
YOY_FIGURES = ("mau_avg", "minutes_per_user_day", "mb_per_user_month", "sessions_per_month")

CLAIM_LEASE_S = 1800
"""A scheduled run's claim on its period lapses after this long without a 'done' or 'failed' row."""

_GENERATION_LOCK = threading.Lock()


@dataclass(frozen=True)
class SummarySettings:
    """The settings a summary's figures depend on, all recorded in each version's manifest. `recorded` holds
    those the service layer knows (time zone, ingestion limits); `demo` the scale factors of a demonstration
    dataset ({"users": n, "visits": m}, None for real data), whose band edges are scaled down alike."""

    min_cell_users: int = DEFAULT_MIN_CELL_USERS
    recorded: Mapping[str, Any] = field(default_factory=dict)
    band_edges: tuple[int, ...] = BAND_EDGES
    demo: Mapping[str, int] | None = None

    def for_manifest(self) -> dict[str, Any]:
        return {**self.recorded, "min_cell_users": self.min_cell_users,
                "protection_user_months": self.min_cell_users, "large_change": LARGE_CHANGE,
                "data_share_category": DATA_SHARE_CATEGORY, "data_share_top": DATA_SHARE_TOP,
                "band_edges": list(self.band_edges), "demo": dict(self.demo) if self.demo else None}


@dataclass(frozen=True)
class SummaryVersion:
    period: str
    version: int
    created_at: datetime
    trigger: str
    created_by: str
    figures: dict[str, Any]
    changes: dict[str, Any]
    manifest: dict[str, Any] = field(default_factory=dict)  # inputs, files, method_changes; {} before 0010

    def meta(self) -> dict[str, Any]:
        return {"period": self.period, "version": self.version,
                "created_at": self.created_at.astimezone(UTC).isoformat(timespec="milliseconds"),
                "trigger": self.trigger, "created_by": self.created_by}

    def document(self) -> dict[str, Any]:
        """The version as the JSON format answers it."""
        return {**self.meta(), "figures": self.figures, "changes": self.changes}


# -- figures ----------------------------------------------------------------------------------------
def gather_figures(store: Store, registry: Registry, period: Period,
                   settings: SummarySettings | None = None) -> dict[str, Any]:
    """Every figure a summary of `period` shows, as one JSON-serialisable dict (see docs in the renderer).

    One exact read of the rollups for the period, the previous one and the year before; every figure is
    computed once from it (rankings, the data share and the overview come from the same figures)."""
    settings = settings or SummarySettings()
    platforms = registry.platforms()
    provinces = registry.provinces()
    periods = [period, period.previous(), period.year_before()]
    computed = metrics.all_figures(store, registry, periods, exact=True)
    current, previous, year_before = computed.by_period
    active = computed.active(period)
    by_platform = {pid: present.figures_json(f, previous[pid], year_before[pid]) for pid, f in active.items()}

    categories: list[dict[str, Any]] = []
    for category in CATEGORIES:
        members = [pid for pid in by_platform if platforms[pid].category == category]
        if not members:
            continue
        ranks: dict[str, int] = {}
        for kind, metric in (("app", "mau_avg"), ("web", "sessions_per_month")):
            ranks.update({item.platform.platform_id: item.rank for item in
                          rank(current, year_before, platforms, metric, category=category, kind=kind)})
        rows = []
        for pid in members:
            platform = platforms[pid]
            row = {key: value for key, value in by_platform[pid].items() if key != "period"}
            row.update(name=platform.name, origin=platform.origin, category=category, kind=platform.kind,
                       province=platform.province, rank=ranks.get(pid))
            rows.append(row)
        rows.sort(key=lambda r: (r["kind"] != "app", r["rank"] if r["rank"] is not None else math.inf,
                                 r["platform"]))
        categories.append({"category": category, "platforms": rows})

    data_share = None
    in_share = [f for pid, f in active.items() if platforms[pid].category == DATA_SHARE_CATEGORY]
    if in_share:
        shares = compare(in_share, {pid: p.origin for pid, p in platforms.items()}, "mb_per_user_month",
                         DATA_SHARE_TOP)
        data_share = present.origin_comparison_json(period, DATA_SHARE_CATEGORY, shares,
                                                    present.platform_names(platforms))

    provincial = []
    for pid, row in by_platform.items():
        platform = platforms[pid]
        if not platform.province:
            continue
        province = provinces.get(platform.province)
        provincial.append({
            "platform": pid, "name": platform.name, "province": platform.province,
            "province_name": province.name if province else platform.province,
            "smartphone_users": province.smartphone_users if province else None,
            "mau_peak": row["mau_peak"], "mau_peak_month": row["mau_peak_month"],
            "penetration": row["penetration"], "minutes_per_user_day": row["minutes_per_user_day"],
            "installs_total": row["installs_total"],
        })
    provincial.sort(key=lambda r: r["platform"])

    os_tables = [{"platform": row["platform"], "name": row["name"], "items": present.breakdown_json(
                      metrics.breakdown(store, row["platform"], period, "os", settings.min_cell_users))["items"]}
                 for block in categories for row in block["platforms"]]

    return {
        "period": {"label": period.label, "kind": period.kind, "start": period.start.isoformat(),
                   "end": period.end.isoformat(), "months": [f"{m:%Y-%m}" for m in period.months],
                   "previous": period.previous().label, "year_before": period.year_before().label},
        "thresholds": {"large_change": LARGE_CHANGE, "data_share_category": DATA_SHARE_CATEGORY,
                       "data_share_top": DATA_SHARE_TOP, "band_edges": list(settings.band_edges)},
        "categories": categories,
        "data_share": data_share,
        "overview": present.overview_json(summarise(period, active, platforms, settings.band_edges)),
        "provincial": provincial,
        "os": os_tables,
        "demo": dict(settings.demo) if settings.demo else None,
    }


# -- changes against the previous version -----------------------------------------------------------------
def flatten(figures: dict[str, Any]) -> dict[str, tuple[str, str, Any]]:
    """The comparable figures of a summary: key -> (subject, figure, value)."""
    flat: dict[str, tuple[str, str, Any]] = {}
    for category in figures.get("categories", []):
        for row in category["platforms"]:
            subject = row["platform"]
            for name in PLATFORM_FIGURES:
                flat[f"platform:{subject}:{name}"] = (subject, name, row.get(name))
            for name in YOY_FIGURES:
                flat[f"platform:{subject}:yoy.{name}"] = (subject, f"yoy.{name}", (row.get("yoy") or {}).get(name))
    share = figures.get("data_share")
    if share:
        for side in ("vn", "foreign"):
            flat[f"data_share:{side}.total"] = ("data_share", f"{side}.total", share[side]["total"])
            flat[f"data_share:{side}.share"] = ("data_share", f"{side}.share", share[side]["share"])
        flat["data_share:ratio_vn_to_foreign"] = ("data_share", "ratio_vn_to_foreign", share["ratio_vn_to_foreign"])
    overview = figures.get("overview") or {}
    for name in ("platforms_active", "mau_total", "hours_per_user_month", "share_of_users"):
        flat[f"overview:{name}"] = ("overview", name, overview.get(name))
    for row in figures.get("provincial", []):
        flat[f"provincial:{row['platform']}:penetration"] = (row["platform"], "penetration", row["penetration"])
    for table in figures.get("os", []):
        for item in table["items"]:
            key = item["key"] or ""
            flat[f"os:{table['platform']}:{key}"] = (table["platform"], f"os.{key}", item["mau_avg"])
    return flat


def _same(before: Any, after: Any) -> bool:
    if isinstance(before, int | float) and isinstance(after, int | float):
        return math.isclose(before, after, rel_tol=1e-12, abs_tol=1e-12)
    return bool(before == after)


def compare_figures(before: dict[str, Any] | None, after: dict[str, Any], against: int | None) -> dict[str, Any]:
    """What moved between two versions' figures: every comparable figure whose value differs."""
    if before is None:
        return {"against_version": None, "items": [], "added": [], "removed": []}
    old, new = flatten(before), flatten(after)
    old_platforms = {k.split(":")[1] for k in old if k.startswith("platform:")}
    new_platforms = {k.split(":")[1] for k in new if k.startswith("platform:")}
    items = []
    for key in sorted(old.keys() | new.keys()):
        subject, name, was = old.get(key, (None, None, None))
        subject2, name2, now = new.get(key, (subject, name, None))
        if _same(was, now):
            continue
        delta = now - was if isinstance(was, int | float) and isinstance(now, int | float) else None
        relative = delta / was if delta is not None and was else None
        items.append({"subject": subject2 or subject, "figure": name2 or name, "before": was, "after": now,
                      "delta": delta, "relative": relative})
    return {"against_version": against, "items": items, "added": sorted(new_platforms - old_platforms),
            "removed": sorted(old_platforms - new_platforms)}


# -- storage ------------------------------------------------------------------------------------------------
RenderFiles = Callable[[SummaryVersion], Mapping[str, bytes]]
"""The output files of a version by file name (v1.html ...), as the service layer renders them."""


@dataclass(frozen=True)
class Difference:
    """A published figure that the stored data no longer gives."""

    figure: str
    published: Any
    recomputed: Any


class Summaries:
    """Generates, stores, reads and verifies summary versions."""

    def __init__(self, store: Store, registry: Registry, settings: SummarySettings | None = None,
                 render_files: RenderFiles | None = None):
        self.store = store
        self.registry = registry
        self.settings = settings or SummarySettings()
        self.render_files = render_files

    def generate(self, period: Period, trigger: str, created_by: str = "") -> SummaryVersion:
        """Gather the figures now and store them as the period's next version, with its manifest."""
        if trigger not in TRIGGERS:
            raise ValueError(f"trigger must be one of {', '.join(TRIGGERS)}, got {trigger!r}")
        with _GENERATION_LOCK:
            figures = _plain(gather_figures(self.store, self.registry, period, self.settings))
            previous = self.get(period.label)
            inputs = _plain(manifest.build_inputs(self.store, period, _platforms(figures),
                                                  self.settings.for_manifest()))
            changes = compare_figures(previous.figures if previous else None, figures,
                                      previous.version if previous else None)
            record = {"inputs": inputs, "files": {},
                      "method_changes": manifest.differences(previous.manifest.get("inputs") if previous else None,
                                                             inputs)}
            now = datetime.now(UTC)
            created_at = now.replace(microsecond=now.microsecond // 1000 * 1000)  # as stored: DateTime64(3)
            version = SummaryVersion(period.label, (previous.version if previous else 0) + 1, created_at,
                                     trigger, created_by, figures, _plain(changes), _plain(record))
            if self.render_files is not None:
                files = {name: manifest.sha256(data) for name, data in self.render_files(version).items()}
                version = replace(version, manifest={**version.manifest, "files": files})
            self.store.insert(
                "summaries",
                [[version.period, version.version, version.created_at, trigger, created_by,
                  orjson.dumps(figures).decode(), orjson.dumps(version.changes).decode(),
                  orjson.dumps(version.manifest).decode()]],
                ["period", "version", "created_at", "trigger", "created_by", "figures", "changes", "manifest"],
            )
        return version

    def versions(self, period: str) -> list[dict[str, Any]]:
        """The period's versions, oldest first, without their figures."""
        rows = self.store.rows(
            "SELECT version, created_at, toString(trigger), created_by FROM summaries "
            "WHERE period = {p:String} ORDER BY version", {"p": period})
        return [SummaryVersion(period, row[0], _utc(row[1]), row[2], row[3], {}, {}).meta() for row in rows]

    def get(self, period: str, version: int | None = None) -> SummaryVersion | None:
        """One version of the period (the latest when `version` is None), or None."""
        columns = "version, created_at, toString(trigger), created_by, figures, changes, manifest"
        if version is None:
            sql = f"SELECT {columns} FROM summaries WHERE period = {{p:String}} ORDER BY version DESC LIMIT 1"
            params: dict[str, Any] = {"p": period}
        else:
            sql = f"SELECT {columns} FROM summaries WHERE period = {{p:String}} AND version = {{v:UInt32}} LIMIT 1"
            params = {"p": period, "v": version}
        rows = self.store.rows(sql, params)
        if not rows:
            return None
        number, created_at, trigger, created_by, figures, changes, stored_manifest = rows[0]
        return SummaryVersion(period, number, _utc(created_at), trigger, created_by, orjson.loads(figures),
                              orjson.loads(changes), orjson.loads(stored_manifest) if stored_manifest else {})

    def verify(self, version: SummaryVersion) -> list[Difference]:
        """Recompute the version's figures from the stored data, with the settings it was made with, and list
        every figure that differs from the published one (none: the version still holds)."""
        recorded = (version.manifest.get("inputs") or {}).get("settings") or {}
        settings = SummarySettings(
            int(recorded.get("min_cell_users", self.settings.min_cell_users)), self.settings.recorded,
            tuple(recorded.get("band_edges", self.settings.band_edges)),
            recorded.get("demo", self.settings.demo))
        recomputed = _plain(gather_figures(self.store, self.registry, parse_period(version.period), settings))
        published, now = dict(leaves(version.figures)), dict(leaves(recomputed))
        return [Difference(name, published.get(name), now.get(name)) for name in sorted(published.keys() | now.keys())
                if not _same(published.get(name), now.get(name))]

    def latest_made_since(self, period: str, triggers: tuple[str, ...], since: datetime) -> int | None:
        """The latest version of the period made by one of `triggers` at or after `since`, if any."""
        rows = self.store.rows(
            "SELECT max(version) FROM summaries WHERE period = {p:String} AND toString(trigger) IN {t:Array(String)} "
            "AND created_at >= {since:DateTime64(3, 'UTC')} HAVING count() > 0",
            {"p": period, "t": list(triggers), "since": since.astimezone(UTC).replace(tzinfo=None)})
        return int(rows[0][0]) if rows else None


def _platforms(figures: dict[str, Any]) -> list[str]:
    return [row["platform"] for block in figures["categories"] for row in block["platforms"]]


def leaves(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every number, text or null of a figures document with a readable path: list entries are named by
    their platform, category, key or month when they have one (categories.communication.zalo.mau_avg)."""
    if isinstance(value, dict):
        for name, item in value.items():
            yield from leaves(item, f"{path}.{name}" if path else str(name))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            label = next((item[k] for k in ("platform", "category", "key", "month") if isinstance(item, dict)
                          and k in item), index)
            yield from leaves(item, f"{path}.{'(none)' if label is None else label}")
    else:
        yield path, value


def _plain(value: Any) -> Any:
    """Round-trip through JSON so stored and freshly generated figures compare equal (dates become text)."""
    return orjson.loads(orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS, default=str))


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class SummaryRuns:
    """The scheduler's ledger (table summary_runs): when it was enabled, which periods are done, and claims.

    Rows take the ClickHouse server's clock (now64), so claims made by several processes (API replicas, a
    CronJob) are ordered by one clock. A run's rows carry its run id first in `detail`.
    """

    def __init__(self, store: Store):
        self.store = store

    def record(self, period: str, status: str, trigger: str, version: int = 0, detail: str = "") -> None:
        self.store.command(
            "INSERT INTO summary_runs (period, status, trigger, version, at, detail) VALUES "
            "({p:String}, {s:String}, {t:String}, {v:UInt32}, now64(3), {d:String})",
            {"p": period, "s": status, "t": trigger, "v": version, "d": detail})

    def enabled_on(self) -> date | None:
        """The local date the scheduler first ran on this store (kept in the 'enabled' row's detail)."""
        rows = self.store.rows("SELECT argMin(detail, at) FROM summary_runs WHERE status = 'enabled' "
                               "HAVING count() > 0")
        return date.fromisoformat(rows[0][0]) if rows else None

    def enable(self, today: date, trigger: str = "schedule") -> date:
        """Record the first run of the scheduler (once); returns the date it was first enabled."""
        enabled = self.enabled_on()
        if enabled is None:
            self.record("", "enabled", trigger, detail=today.isoformat())
            enabled = today
        return enabled

    def done_periods(self) -> set[str]:
        return {row[0] for row in self.store.rows("SELECT DISTINCT period FROM summary_runs WHERE status = 'done'")}

    def claim(self, period: str, trigger: str, lease_s: int = CLAIM_LEASE_S) -> str | None:
        """Start a run of `period` unless it is done or another live run claimed it first; returns the run id.

        A claim is live until its run records 'done' or 'failed', or for `lease_s` seconds (a run that died).
        Of the live claims the earliest wins, so two processes claiming at once agree on one winner.
        """
        run_id = uuid.uuid4().hex
        self.record(period, "started", trigger, detail=run_id)
        rows = self.store.rows(
            "SELECT countIf(status = 'done'), "
            "groupArrayIf((at, detail), status = 'started' AND at >= now64(3) - toIntervalSecond({lease:UInt32})), "
            "groupArrayIf(splitByChar(' ', detail)[1], status IN ('done', 'failed', 'yielded')) "
            "FROM summary_runs WHERE period = {p:String}", {"p": period, "lease": lease_s})
        done, started, ended = rows[0]
        live = [detail for _, detail in sorted(started) if detail not in set(ended)]
        if done or not live or live[0] != run_id:
            self.record(period, "yielded", trigger, detail=f"{run_id} the period is done or another run claimed it")
            return None
        return run_id
