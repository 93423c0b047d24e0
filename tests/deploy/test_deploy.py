"""Deployment artefacts: the cluster schema variant and everything under deploy/.

No Docker and no network: the cluster DDL is checked with ClickHouse's own parser (formatQuery in chDB)
and, with replication and distribution swapped for their single-node equivalents, executed next to the
single-server schema to prove both variants have the same tables, columns, keys and views. The compose
files, Kubernetes manifests, ClickHouse/Keeper XML, nginx and cron files are parsed and checked against
each other and against deploy/README.md.
"""

from __future__ import annotations

import json
import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from queries.migrate import load, statements
from queries.store import Store, Target
from service.limits import BODY_TIMEOUT_S
from service.server import HEAD_TIMEOUT_S, HEALTH_CONNECTIONS, MAX_HEAD_BYTES, RESERVED_FILES
from service.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
CLUSTER_DIR = ROOT / "queries" / "migrations" / "cluster"
SINGLE_DIR = ROOT / "queries" / "migrations" / "single"
CLUSTER = "vnmeter"
DATABASE = "vnmeter"
# Small tables replicated to every node under one path (not sharded): registry, state, counts, summaries.
UNSHARDED_TABLES = {
    "schema_migrations",
    "ingest_journal",
    "ingest_journal_done",
    "ingest_quality",
    "ingest_journal_quarantine",
    "api_keys",
    "platforms",
    "provinces",
    "service_state",
    "pseudonym_keys",
    "platform_monthly_counts",
    "summaries",
    "summary_runs",
    "declared_totals",
}
DISTRIBUTED_TABLES = {"events", "event_keys", "platform_daily", "platform_monthly", "platform_monthly_dims"}
SHARDED_PATH = "/clickhouse/tables/{shard}/{database}/{table}"
ALL_NODES_PATH = "/clickhouse/tables/all/{database}/{table}"
CLICKHOUSE_HOSTS = ["ch-s1r1", "ch-s1r2", "ch-s2r1", "ch-s2r2"]
PLACEHOLDERS = {"CHANGE_ME", "change-me", "changeme"}
# The service's command line in every container (it listens on all interfaces inside the container); port 8001
# serves only the health probes.
SERVE = ["vnmeter", "serve", "--host", "0.0.0.0", "--port", "8000", "--health-port", "8001"]  # noqa: S104
HEALTH_PORT = 8001
# Files an operator creates next to the committed ones (never committed): not part of the checked set.
LOCAL_ONLY = {".env"}


# -- the cluster migrations, as ClickHouse parses them ---------------------------------------------------
@dataclass
class Ddl:
    file: str
    raw: str
    text: str  # formatQuery output: ClickHouse's canonical form of the statement
    kind: str  # "table", "view", "alter" or "drop"
    name: str
    engine: str = ""
    engine_args: list[str] = field(default_factory=list)
    columns: list[tuple[str, str]] = field(default_factory=list)
    view_target: str = ""
    view_source: str = ""


def split_args(args: str) -> list[str]:
    """Top-level comma-separated arguments of an engine call (parentheses and quotes respected)."""
    parts, depth, quoted, current = [], 0, False, ""
    for char in args:
        if char == "'" and not current.endswith("\\"):
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
        if char == "," and depth == 0 and not quoted:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    if current.strip():
        parts.append(current.strip())
    return parts


def parse_ddl(file: str, raw: str, text: str) -> Ddl:
    head = text.splitlines()[0]
    table = re.match(r"^CREATE TABLE IF NOT EXISTS (\w+) ON CLUSTER (\w+)$", head)
    view = re.match(r"^CREATE MATERIALIZED VIEW IF NOT EXISTS (\w+) ON CLUSTER (\w+) TO (\w+)$", head)
    alter = re.match(r"^ALTER TABLE (\w+) ON CLUSTER (\w+)$", head)
    drop = re.match(r"^DROP (?:VIEW|TABLE) IF EXISTS (\w+) ON CLUSTER (\w+)( SYNC)?$", head)
    if alter or drop:
        found = alter or drop
        assert found is not None
        return Ddl(file, raw, text, "alter" if alter else "drop", found.group(1))
    assert table or view, (
        f"{file}: unexpected statement (not CREATE ... IF NOT EXISTS ... ON CLUSTER): {head}"
    )
    if view:
        source = re.search(r"^FROM (\w+)$", text, re.MULTILINE)
        assert source, f"{file}: view {view.group(1)} has no single FROM table"
        return Ddl(
            file, raw, text, "view", view.group(1), view_target=view.group(3), view_source=source.group(1)
        )
    assert table is not None
    ddl = Ddl(file, raw, text, "table", table.group(1))
    body = re.search(r"^\($(.*?)^\)$", text, re.MULTILINE | re.DOTALL)
    assert body, f"{file}: {ddl.name} has no column list"
    for line in body.group(1).strip("\n").splitlines():
        column = re.match(r"^ {4}`(\w+)` (.+?),?$", line)
        assert column, f"{file}: {ddl.name}: cannot read column line {line!r}"
        ddl.columns.append((column.group(1), column.group(2)))
    engine = re.search(r"^ENGINE = `?(\w+)`?(?:\((.*)\))?$", text, re.MULTILINE)
    assert engine, f"{file}: {ddl.name} has no ENGINE"
    ddl.engine = engine.group(1)
    ddl.engine_args = split_args(engine.group(2) or "")
    return ddl


def cluster_statements() -> list[tuple[str, str]]:
    ledger, migrations = load("cluster")
    found = [("schema_migrations.sql", s) for s in statements(ledger, CLUSTER)]
    for migration in migrations:
        found += [
            (f"{migration.version:04d}_{migration.name}.sql", s) for s in statements(migration.sql, CLUSTER)
        ]
    return found


@pytest.fixture(scope="module")
def cluster_ddl(chdb_client: Any) -> list[Ddl]:
    parsed = []
    for file, raw in cluster_statements():
        try:
            text = chdb_client.query("SELECT formatQuery({q:String})", parameters={"q": raw}).result_rows[0][
                0
            ]
        except Exception as exc:  # the parser's message says where the statement is wrong
            pytest.fail(f"{file}: ClickHouse cannot parse the statement:\n{raw}\n{exc}")
        parsed.append(parse_ddl(file, raw, text))
    return parsed


def tables(ddl: list[Ddl]) -> dict[str, Ddl]:
    return {d.name: d for d in ddl if d.kind == "table"}


def final_schema(ddl: list[Ddl]) -> list[Ddl]:
    """The tables and views that the last migration leaves: those a later statement drops are left out."""
    dropped_at = {d.name: i for i, d in enumerate(ddl) if d.kind == "drop"}
    return [d for i, d in enumerate(ddl) if d.kind in {"table", "view"} and dropped_at.get(d.name, -1) < i]


def test_cluster_variant_has_the_single_variants_files() -> None:
    single = sorted(p.name for p in SINGLE_DIR.glob("*.sql"))
    cluster = sorted(p.name for p in CLUSTER_DIR.glob("*.sql"))
    assert cluster == single


def test_every_cluster_statement_parses_and_runs_on_the_cluster(cluster_ddl: list[Ddl]) -> None:
    assert len(cluster_ddl) >= 30
    for ddl in cluster_ddl:
        assert f" ON CLUSTER {CLUSTER}" in ddl.text.splitlines()[0], (
            f"{ddl.file}: {ddl.name} lacks ON CLUSTER"
        )
    # the cluster name comes from `vnmeter migrate --cluster NAME`, never from the files
    for path in CLUSTER_DIR.glob("*.sql"):
        for statement in statements(path.read_text()):
            assert "ON CLUSTER '{cluster}'" in statement, (
                f"{path.name}: no ON CLUSTER '{{cluster}}' in {statement}"
            )


def test_cluster_engines_are_replicated_or_distributed(cluster_ddl: list[Ddl]) -> None:
    by_name = tables(final_schema(cluster_ddl))
    for name, ddl in by_name.items():
        if ddl.engine == "Distributed":
            continue
        if ddl.engine == "Null":
            assert name == "events_ingest", f"{name}: only the ingestion entry point stores nothing"
            continue
        assert ddl.engine.startswith("Replicated") and ddl.engine.endswith("MergeTree"), (
            f"{name}: {ddl.engine}"
        )
        path, replica = ddl.engine_args[0], ddl.engine_args[1]
        assert replica == "'{replica}'", f"{name}: replica name must be the {{replica}} macro"
        if name in UNSHARDED_TABLES:
            # small tables: one replicated table on every node, no shard in the path, no Distributed twin
            assert path == f"'{ALL_NODES_PATH}'", f"{name}: {path}"
            assert f"{name}_local" not in by_name
        else:
            assert name.endswith("_local"), f"{name}: sharded storage tables are named <table>_local"
            assert path == f"'{SHARDED_PATH}'", f"{name}: {path}"
            assert by_name[name.removesuffix("_local")].engine == "Distributed", (
                f"{name}: no Distributed twin"
            )


def test_distributed_tables_point_at_earlier_local_tables(cluster_ddl: list[Ddl]) -> None:
    order: dict[str, int] = {}
    for i, d in enumerate(cluster_ddl):
        if d.kind in {"table", "view"}:
            order.setdefault(d.name, i)  # where it is created, not where a later migration alters it
    distributed = [d for d in final_schema(cluster_ddl) if d.kind == "table" and d.engine == "Distributed"]
    assert {d.name for d in distributed} == DISTRIBUTED_TABLES
    for ddl in distributed:
        assert ddl.engine_args[:3] == [f"'{CLUSTER}'", "currentDatabase()", f"{ddl.name}_local"], (
            ddl.engine_args
        )
        assert order[f"{ddl.name}_local"] < order[ddl.name], f"{ddl.name}: created before its local table"
        if ddl.name == "events":
            # a user's rows of a platform-month on one shard: distinct counts add up over shards
            assert ddl.engine_args[3:] == ["cityHash64(user_pseudo)"]
        else:
            # fed only by views on the local tables: no sharding key, so direct inserts fail loudly
            assert ddl.engine_args[3:] == [], ddl.name


def test_views_read_and_write_local_tables(cluster_ddl: list[Ddl]) -> None:
    created: dict[str, int] = {}
    position: dict[int, int] = {}  # id of each view statement -> its index (a view may be re-created later)
    for i, d in enumerate(cluster_ddl):
        if d.kind == "table":
            created.setdefault(d.name, i)
        position[id(d)] = i
    views = [d for d in final_schema(cluster_ddl) if d.kind == "view"]
    assert {v.name for v in views} == {
        "events_ingest_mv",
        "event_keys_mv",
        "platform_daily_mv",
        "platform_monthly_mv",
        "platform_monthly_dims_mv",
    }
    for view in views:
        at = position[id(view)]
        assert created[view.view_target] < at and created[view.view_source] < at, view.name
        if view.name == "events_ingest_mv":
            # converts on the receiving node, then the Distributed `events` shards the rows
            assert (view.view_source, view.view_target) == ("events_ingest", "events")
            continue
        # on each shard: its events_local feeds its own rollups and dedup index
        assert view.view_source == "events_local", view.name
        assert view.view_target == view.name.removesuffix("_mv") + "_local", view.name


# -- executing both variants side by side ----------------------------------------------------------------
def single_node_equivalent(ddl: Ddl, database: str) -> str:
    """The statement without ON CLUSTER, replication or distribution (a Distributed table becomes a Merge
    table over its local table: the same reads on one node), runnable in chDB."""
    text = ddl.text.replace(f" ON CLUSTER {CLUSTER}", "")
    if ddl.kind == "table" and ddl.engine == "Distributed":
        local = ddl.engine_args[2]
        return re.sub(
            r"^ENGINE = .*$", f"ENGINE = Merge('{database}', '^{local}$')", text, flags=re.MULTILINE
        )
    return re.sub(
        r"^ENGINE = Replicated(\w*MergeTree)\('[^']*', '[^']*'(?:, )?",
        r"ENGINE = \1(",
        text,
        flags=re.MULTILINE,
    )


@pytest.fixture
def cluster_store(chdb_dir: Path, cluster_ddl: list[Ddl]) -> Iterator[Store]:
    """The cluster schema, made single-node (Replicated* -> *, Distributed -> Merge), in a fresh database."""
    database = f"t_cluster_{uuid.uuid4().hex[:12]}"
    opened = Store(Target("chdb", f"chdb://{chdb_dir}", database, chdb_dir))
    try:
        for ddl in cluster_ddl:
            opened.command(single_node_equivalent(ddl, database))
        yield opened
    finally:
        opened.command(f"DROP DATABASE IF EXISTS {database}")
        opened.close()


def test_cluster_0007_copies_each_shards_ids_into_event_keys(chdb_dir: Path, cluster_ddl: list[Ddl]) -> None:
    """The cluster backfill (CREATE ... AS SELECT on every node) on one node: the ids its events_local held
    before 0007 are in event_keys after it, once each, and event_ids is gone."""
    database = f"t_cluster_{uuid.uuid4().hex[:12]}"
    opened = Store(Target("chdb", f"chdb://{chdb_dir}", database, chdb_dir))
    try:
        before = [d for d in cluster_ddl if d.file < "0007"]
        for ddl in before:
            opened.command(single_node_equivalent(ddl, database))
        opened.command(
            "INSERT INTO events_local (platform, event_id, user_pseudo, type, ts, day) SELECT "
            "concat('p', toString(number % 3)), reinterpretAsUUID(MD5(toString(intDiv(number, 2)))), "
            "MD5(toString(number)), 'session', toDateTime64('2026-03-01 00:00:00', 3, 'UTC'), "
            "toDate('2026-03-01') FROM numbers(1000)")
        for ddl in cluster_ddl[len(before):]:
            opened.command(single_node_equivalent(ddl, database))
        pairs = "SELECT platform, toUInt128(event_id) FROM events_local"
        assert opened.rows("SELECT count() FROM event_keys")[0][0] == 1000
        assert opened.rows(f"SELECT count() FROM (SELECT platform, id128 FROM event_keys EXCEPT {pairs})")[0][0] == 0
        assert opened.rows(f"SELECT count() FROM ({pairs} EXCEPT SELECT platform, id128 FROM event_keys)")[0][0] == 0
        assert opened.rows("SELECT name FROM system.tables WHERE database = {db:String} AND name LIKE 'event_ids%'",
                           {"db": database}) == []
    finally:
        opened.command(f"DROP DATABASE IF EXISTS {database}")
        opened.close()


def catalog(store: Store) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    prefix = f"{store.database}."
    for name, engine, engine_full, sorting, partition, as_select, create in store.rows(
        "SELECT name, engine, engine_full, sorting_key, partition_key, as_select, create_table_query "
        "FROM system.tables WHERE database = {db:String}",
        {"db": store.database},
    ):
        target = re.search(r" TO (\S+)", create) if engine == "MaterializedView" else None
        found[name] = {
            "engine": engine,
            "engine_full": engine_full,
            "sorting_key": sorting,
            "partition_key": partition,
            "as_select": as_select.replace(prefix, ""),
            "to": target.group(1).replace(prefix, "") if target else None,
        }
    for table, name, type_, codec in store.rows(
        "SELECT table, name, type, compression_codec FROM system.columns WHERE database = {db:String} "
        "ORDER BY table, position",
        {"db": store.database},
    ):
        found[table].setdefault("columns", []).append((name, type_, codec))
    return found


def test_single_and_cluster_variants_have_the_same_columns_keys_and_views(
    store: Store, cluster_store: Store
) -> None:
    single, cluster = catalog(store), catalog(cluster_store)
    assert set(cluster) == set(single) | {f"{t}_local" for t in single if f"{t}_local" in cluster}
    for name, table in single.items():
        if table["engine"] == "MaterializedView":
            # same query, on each shard reading its events_local instead of events and writing the local
            # rollup; the ingest view writes the (Distributed) events
            assert cluster[name]["engine"] == "MaterializedView"
            assert cluster[name]["as_select"] == re.sub(
                r"FROM events\b", "FROM events_local", table["as_select"]
            )
            expected_to = table["to"] if name == "events_ingest_mv" else f"{table['to']}_local"
            assert cluster[name]["to"] == expected_to, name
            continue
        storage = cluster.get(f"{name}_local", cluster[name])
        # the table the application uses and the storage behind it: the single table's columns, in order
        assert cluster[name]["columns"] == table["columns"], name
        assert storage["columns"] == table["columns"], name
        # ORDER BY, PARTITION BY, engine parameters and SETTINGS identical (Replicated* stripped)
        for key in ("engine", "engine_full", "sorting_key", "partition_key"):
            # the insert-deduplication window is the same setting under its replicated name
            single_value = str(table[key]).replace("non_replicated_deduplication_window",
                                                   "replicated_deduplication_window")
            assert storage[key] == single_value or storage[key] == table[key], f"{name}: {key}"


def test_cluster_views_compute_the_same_rollups(store: Store, cluster_store: Store) -> None:
    """Rows inserted into one shard's events_local give the single variant's rollups through the
    cluster's view chain and its Distributed (here: Merge) tables."""
    fill = (
        "INSERT INTO {table} SELECT concat('p', toString(number % 3)), "
        "reinterpretAsUUID(MD5(toString(number))), MD5(toString(number % 97)), "
        "if(number % 11 = 0, 'install', 'session'), "
        "toDateTime64('2026-03-01 00:00:00', 3, 'UTC') + toIntervalMinute(number * 37), "
        "toDate('2026-03-01') + intDiv(number * 37, 1440), number % 600, number * 1000, "
        "if(number % 13 = 0, 'KR', 'VN'), ['VN-HN', 'VN-SG', 'VN-DN'][1 + number % 3], "
        "if(number % 4 = 0, 'ios', 'android'), now64(3) FROM numbers(5000)"
    )
    store.command(fill.format(table="events"))
    cluster_store.command(fill.format(table="events_local"))
    checks = [
        "SELECT platform, day, uniqExactMerge(users), sum(sessions), sum(installs), sum(duration_s), "
        "sum(bytes) FROM platform_daily GROUP BY platform, day ORDER BY platform, day",
        "SELECT platform, month, uniqExactMerge(users) FROM platform_monthly GROUP BY platform, month "
        "ORDER BY platform, month",
        "SELECT platform, month, dim, key, uniqExactMerge(users) FROM platform_monthly_dims "
        "GROUP BY platform, month, dim, key ORDER BY platform, month, dim, key",
        "SELECT platform, count(), uniqExact(id128), sum(id128 % 1000) FROM event_keys "
        "GROUP BY platform ORDER BY platform",
        "SELECT platform, count(), uniqExact(user_pseudo) FROM events GROUP BY platform ORDER BY platform",
    ]
    for sql in checks:
        expected = store.rows(sql)
        assert expected, sql
        assert cluster_store.rows(sql) == expected, sql


# -- deploy/: compose files ------------------------------------------------------------------------------
def compose(name: str) -> dict[str, Any]:
    loaded = yaml.safe_load((DEPLOY / name).read_text())
    assert isinstance(loaded, dict) and isinstance(loaded.get("services"), dict), name
    return loaded


def published_ports(service: dict[str, Any]) -> set[int]:
    return {int(str(p).rsplit(":", 1)[-1]) for p in service.get("ports", [])}


def bind_mounts(service: dict[str, Any]) -> list[tuple[str, str]]:
    found = []
    for volume in service.get("volumes", []):
        source, target = str(volume).split(":")[:2]
        if source.startswith("."):
            found.append((source, target))
    return found


def assert_pinned(image: str) -> None:
    name, _, tag = image.rpartition(":")
    assert name and tag and tag != "latest" and re.match(r"^\d+(\.\d+)+(-alpine)?$", tag), (
        f"unpinned image {image}"
    )


def assert_files_mounted_exist(doc: dict[str, Any]) -> None:
    for name, service in doc["services"].items():
        for source, _ in bind_mounts(service):
            assert (DEPLOY / source).is_file(), f"{name}: mounts missing file {source}"
        for volume in service.get("volumes", []):
            source = str(volume).split(":")[0]
            if not source.startswith(".") and not source.startswith("/"):
                assert source in (doc.get("volumes") or {}), f"{name}: undeclared volume {source}"


def assert_builds_vnmeter(service: dict[str, Any]) -> None:
    assert service["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}


URL_ENV = re.compile(
    r"^http://vnmeter:\$\{CLICKHOUSE_PASSWORD(:\?[^}]*)?\}@(?P<host>[\w-]+):8123/(?P<db>\w+)$"
)


def test_single_server_compose() -> None:
    doc = compose("docker-compose.yml")
    services = doc["services"]
    assert {"clickhouse", "vnmeter", "migrate"} <= set(services)
    clickhouse, vnmeter = services["clickhouse"], services["vnmeter"]
    assert clickhouse["image"].startswith("clickhouse/clickhouse-server:")
    assert_pinned(clickhouse["image"])
    assert 8123 in published_ports(clickhouse) and 8000 in published_ports(vnmeter)
    assert any(str(v).endswith(":/var/lib/clickhouse") for v in clickhouse["volumes"]), "no data volume"
    mounted = dict((t, s) for s, t in bind_mounts(clickhouse))
    assert mounted["/etc/clickhouse-server/users.d/vnmeter.xml"] == "./clickhouse/users.d/vnmeter.xml"
    assert mounted["/etc/clickhouse-server/config.d/vnmeter.xml"] == "./clickhouse/config.d/vnmeter.xml"
    assert clickhouse["environment"]["VNMETER_CLICKHOUSE_PASSWORD"].startswith("${CLICKHOUSE_PASSWORD")
    for name in ("vnmeter", "migrate"):
        assert_builds_vnmeter(services[name])
        env = services[name]["environment"]
        url = URL_ENV.match(env["VNMETER_CLICKHOUSE_URL"])
        assert url and url["host"] == "clickhouse" and url["db"] == DATABASE, env["VNMETER_CLICKHOUSE_URL"]
        assert env["VNMETER_ADMIN_KEY"].startswith("${VNMETER_ADMIN_KEY")
        assert "VNMETER_CLUSTER" not in env
    assert vnmeter["command"] == SERVE
    assert HEALTH_PORT not in published_ports(vnmeter)
    assert_resource_bounds(vnmeter)
    assert services["migrate"]["command"] == ["vnmeter", "migrate"]
    assert vnmeter["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["summary"]["command"] == ["vnmeter", "summary", "--previous-quarter"]
    assert_files_mounted_exist(doc)


def test_cluster_compose() -> None:
    doc = compose("docker-compose.cluster.yml")
    services = doc["services"]
    for service in services.values():
        if "image" in service and "build" not in service:
            assert_pinned(service["image"])
    keepers = {f"keeper{n}" for n in (1, 2, 3)}
    assert keepers <= set(services)
    assert sorted(services[k]["environment"]["KEEPER_SERVER_ID"] for k in keepers) == ["1", "2", "3"]
    for keeper in keepers:
        assert services[keeper]["image"].startswith("clickhouse/clickhouse-keeper:")
        assert ("./clickhouse/keeper/keeper.xml", "/etc/clickhouse-keeper/keeper_config.xml") in bind_mounts(
            services[keeper]
        )
    clickhouse = {
        n for n, s in services.items() if str(s.get("image", "")).startswith("clickhouse/clickhouse-server:")
    }
    assert clickhouse == set(CLICKHOUSE_HOSTS)
    for host in CLICKHOUSE_HOSTS:
        node = services[host]
        assert node["hostname"] == host
        mounts = dict((t, s) for s, t in bind_mounts(node))
        assert (
            mounts["/etc/clickhouse-server/config.d/macros.xml"] == f"./clickhouse/cluster/macros/{host}.xml"
        )
        assert (
            mounts["/etc/clickhouse-server/config.d/cluster.xml"]
            == "./clickhouse/cluster/config.d/cluster.xml"
        )
        assert (
            mounts["/etc/clickhouse-server/users.d/quorum.xml"] == "./clickhouse/cluster/users.d/quorum.xml"
        )
        assert mounts["/etc/clickhouse-server/users.d/vnmeter.xml"] == "./clickhouse/users.d/vnmeter.xml"
        assert any(str(v) == f"{host}-data:/var/lib/clickhouse" for v in node["volumes"])
        assert set(node["environment"]) == {"VNMETER_CLICKHOUSE_PASSWORD", "CLICKHOUSE_CLUSTER_SECRET"}
    apis = sorted(n for n in services if n.startswith("vnmeter-api-"))
    assert apis == ["vnmeter-api-1", "vnmeter-api-2"]
    for name in [*apis, "migrate", "summary"]:
        assert_builds_vnmeter(services[name])
        env = services[name]["environment"]
        assert env["VNMETER_CLUSTER"] == CLUSTER
        url = URL_ENV.match(env["VNMETER_CLICKHOUSE_URL"])
        assert url and url["host"] == "ch-lb" and url["db"] == DATABASE
    for name in apis:
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert services[name]["command"] == SERVE
        assert_resource_bounds(services[name])
    assert services["migrate"]["command"] == ["vnmeter", "migrate", "--cluster", CLUSTER]
    assert services["summary"]["command"] == ["vnmeter", "summary", "--previous-quarter"]
    assert 8000 in published_ports(services["lb"]) and 8123 in published_ports(services["ch-lb"])
    assert ("./nginx.conf", "/etc/nginx/nginx.conf") in bind_mounts(services["lb"])
    assert ("./nginx-clickhouse.conf", "/etc/nginx/nginx.conf") in bind_mounts(services["ch-lb"])
    assert_files_mounted_exist(doc)


def assert_resource_bounds(service: dict[str, Any]) -> None:
    """The bounds are set explicitly, are valid settings, and the process may open the files they need."""
    env = service["environment"]
    settings = Settings(max_connections=env["VNMETER_MAX_CONNECTIONS"],
                        ingest_memory_mb=env["VNMETER_INGEST_MEMORY_MB"])
    nofile = service["ulimits"]["nofile"]
    assert nofile["soft"] == nofile["hard"] >= settings.max_connections + HEALTH_CONNECTIONS + RESERVED_FILES


def nginx_directives(text: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name, value in re.findall(r"^\s*(\w+)\s+([^;{]*);", text, re.MULTILINE):
        found.setdefault(name, []).append(value.strip())
    return found


def test_nginx_limits_what_a_client_holds_like_the_service() -> None:
    directives = nginx_directives((DEPLOY / "nginx.conf").read_text())
    assert directives["client_header_timeout"] == [f"{HEAD_TIMEOUT_S:g}s"]
    _, size = directives["large_client_header_buffers"][0].split()
    assert size == f"{MAX_HEAD_BYTES // 1024}k"
    assert directives["client_body_timeout"] == [f"{BODY_TIMEOUT_S:g}s"]
    assert directives["limit_conn"] == ["per_client 100"]
    assert directives["proxy_request_buffering"] == ["on"]
    api_cap = int(compose("docker-compose.cluster.yml")["services"]["vnmeter-api-1"]["environment"][
        "VNMETER_MAX_CONNECTIONS"])
    caps = [int(m) for m in re.findall(r"^\s*server vnmeter-api-\d:8000 .*max_conns=(\d+);", (DEPLOY / "nginx.conf")
                                       .read_text(), re.MULTILINE)]
    assert len(caps) == 2 and all(cap < api_cap for cap in caps)
    assert int(directives["worker_rlimit_nofile"][0]) >= 2 * int(directives["worker_connections"][0])


def test_nginx_balances_the_api_replicas_and_the_clickhouse_nodes() -> None:
    api = (DEPLOY / "nginx.conf").read_text()
    assert re.search(r"^\s*listen 8000;", api, re.MULTILINE)
    assert re.findall(r"^\s*server (vnmeter-api-\d):8000\b", api, re.MULTILINE) == [
        "vnmeter-api-1",
        "vnmeter-api-2",
    ]
    ch = (DEPLOY / "nginx-clickhouse.conf").read_text()
    assert re.search(r"^\s*listen 8123;", ch, re.MULTILINE)
    assert re.findall(r"^\s*server ([\w-]+):8123\b", ch, re.MULTILINE) == CLICKHOUSE_HOSTS
    for text in (api, ch):
        assert text.count("{") == text.count("}")


def test_dockerfile() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", text, re.MULTILINE)
    assert re.search(r"^RUN pip install \.", text, re.MULTILINE)
    assert re.search(r"^CMD (\[.*\])$", text, re.MULTILINE)[1] == json.dumps(SERVE)  # type: ignore[index]
    assert re.search(r"^EXPOSE 8000 8001$", text, re.MULTILINE)
    healthcheck = text[text.index("HEALTHCHECK"):]
    assert f"http://127.0.0.1:{HEALTH_PORT}/health/live" in healthcheck.split("\n\n")[0]
    assert re.search(r"^USER \w+", text, re.MULTILINE), "the service must not run as root"
    for copied in re.findall(r"^COPY (\S+) ", text, re.MULTILINE):
        assert (ROOT / copied).exists(), copied


# -- deploy/clickhouse: XML ------------------------------------------------------------------------------
def parse_xml(path: Path) -> ET.Element:
    return ET.parse(path).getroot()  # noqa: S314 - the repository's own configuration files


def xml(relative: str) -> ET.Element:
    return parse_xml(DEPLOY / relative)


def test_every_clickhouse_xml_file_parses() -> None:
    files = sorted((DEPLOY / "clickhouse").rglob("*.xml"))
    assert len(files) >= 9
    for path in files:
        root = parse_xml(path)
        assert root.tag == "clickhouse", path


def macros() -> dict[str, tuple[str, str]]:
    found = {}
    for path in sorted((DEPLOY / "clickhouse" / "cluster" / "macros").glob("*.xml")):
        m = parse_xml(path).find("macros")
        assert m is not None, path
        assert m.findtext("cluster") == CLUSTER
        found[path.stem] = (m.findtext("shard") or "", m.findtext("replica") or "")
    return found


def test_macros_give_two_shards_of_two_distinct_replicas() -> None:
    found = macros()
    assert sorted(found) == CLICKHOUSE_HOSTS
    assert len(set(found.values())) == 4
    assert sorted({shard for shard, _ in found.values()}) == ["1", "2"]
    for shard in ("1", "2"):
        assert len([r for s, r in found.values() if s == shard]) == 2
    # replica names are unique cluster-wide: the registry tables replicate to all four under one path
    assert len({replica for _, replica in found.values()}) == 4
    for host, (_, replica) in found.items():
        assert replica == host


def test_remote_servers_define_the_cluster() -> None:
    root = xml("clickhouse/cluster/config.d/cluster.xml")
    cluster = root.find(f"remote_servers/{CLUSTER}")
    assert cluster is not None
    secret = cluster.find("secret")
    assert secret is not None and secret.get("from_env") and not (secret.text or "").strip()
    shards = cluster.findall("shard")
    assert len(shards) == 2
    by_shard = {s: sorted(h for h, (sh, _) in macros().items() if sh == s) for s in ("1", "2")}
    for number, shard in enumerate(shards, start=1):
        assert shard.findtext("internal_replication") == "true"
        replicas = shard.findall("replica")
        assert len(replicas) == 2
        assert sorted(r.findtext("host") or "" for r in replicas) == by_shard[str(number)]
        assert all(r.findtext("port") == "9000" for r in replicas)
    keeper = xml("clickhouse/keeper/keeper.xml").find("keeper_server")
    assert keeper is not None
    keeper_hosts = sorted(s.findtext("hostname") or "" for s in keeper.findall("raft_configuration/server"))
    assert keeper_hosts == ["keeper1", "keeper2", "keeper3"]
    assert sorted(s.findtext("id") or "" for s in keeper.findall("raft_configuration/server")) == [
        "1",
        "2",
        "3",
    ]
    server_id = keeper.find("server_id")
    assert server_id is not None and server_id.get("from_env") == "KEEPER_SERVER_ID"
    nodes = root.findall("zookeeper/node")
    assert sorted(n.findtext("host") or "" for n in nodes) == keeper_hosts
    assert {n.findtext("port") for n in nodes} == {keeper.findtext("tcp_port")}
    assert root.findtext("distributed_ddl/path")


def test_vnmeter_user_and_quorum_profile() -> None:
    users = xml("clickhouse/users.d/vnmeter.xml")
    user = users.find("users/vnmeter")
    assert user is not None and user.findtext("profile") == "vnmeter"
    password = user.find("password")
    assert password is not None and password.get("from_env") == "VNMETER_CLICKHOUSE_PASSWORD"
    assert not (password.text or "").strip()
    assert users.find("profiles/vnmeter") is not None
    quorum = xml("clickhouse/cluster/users.d/quorum.xml").find("profiles/vnmeter")
    assert quorum is not None
    assert quorum.findtext("insert_quorum") == "2"
    assert quorum.findtext("insert_quorum_parallel") == "1"
    assert quorum.findtext("distributed_foreground_insert") == "1"
    # one replica per shard serves every node's reads: rollup count versions stay monotonic
    assert quorum.findtext("load_balancing") == "in_order"
    assert quorum.findtext("prefer_localhost_replica") == "0"


def test_server_default_database_is_the_applications() -> None:
    assert xml("clickhouse/config.d/vnmeter.xml").findtext("default_database") == DATABASE
    secret = yaml.safe_load((DEPLOY / "k8s" / "secret.yaml").read_text())
    assert secret["stringData"]["clickhouse-url"].rsplit("/", 1)[-1] == DATABASE


# -- deploy/k8s and deploy/cron --------------------------------------------------------------------------
def manifests() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            assert isinstance(doc, dict) and doc.get("apiVersion") and doc.get("kind"), path
            assert doc["kind"] not in found, f"two {doc['kind']} manifests"
            found[doc["kind"]] = doc
    return found


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


def pod_spec(doc: dict[str, Any]) -> dict[str, Any]:
    spec = doc["spec"]
    if doc["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return spec["template"]["spec"]


def test_kubernetes_manifests() -> None:
    docs = manifests()
    assert {"Namespace", "Secret", "Deployment", "Service", "CronJob", "Job"} <= set(docs)
    namespace = docs["Namespace"]["metadata"]["name"]
    assert all(d["metadata"].get("namespace") == namespace for k, d in docs.items() if k != "Namespace")

    secret = docs["Secret"]
    assert set(secret["stringData"]) == {"admin-key", "clickhouse-url"}
    assert secret["stringData"]["admin-key"] in PLACEHOLDERS
    assert "CHANGE_ME" in secret["stringData"]["clickhouse-url"]
    assert (
        "kubectl" in (DEPLOY / "k8s" / "secret.yaml").read_text()
        and "create secret" in (DEPLOY / "k8s" / "secret.yaml").read_text()
    )
    secret_name = secret["metadata"]["name"]

    deployment = docs["Deployment"]
    assert deployment["spec"]["replicas"] == 2
    (container,) = pod_spec(deployment)["containers"]
    assert container["command"] == SERVE
    assert container["readinessProbe"]["httpGet"] == {"path": "/health/ready", "port": HEALTH_PORT}
    assert container["livenessProbe"]["httpGet"] == {"path": "/health/live", "port": HEALTH_PORT}
    assert [p["containerPort"] for p in container["ports"]] == [8000, HEALTH_PORT]
    env = env_of(container)
    settings = Settings(max_connections=env["VNMETER_MAX_CONNECTIONS"],
                        ingest_memory_mb=env["VNMETER_INGEST_MEMORY_MB"])
    limit = container["resources"]["limits"]["memory"]
    assert limit.endswith("Gi") and settings.ingest_memory_mb + 512 <= int(limit[:-2]) * 1024
    for variable, key in (("VNMETER_CLICKHOUSE_URL", "clickhouse-url"), ("VNMETER_ADMIN_KEY", "admin-key")):
        assert env[variable] == {"secretKeyRef": {"name": secret_name, "key": key}}, variable
    assert env["VNMETER_CLUSTER"] == CLUSTER

    service = docs["Service"]
    assert service["spec"]["selector"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    assert [p["port"] for p in service["spec"]["ports"]] == [8000]

    cron = docs["CronJob"]
    assert cron["spec"]["schedule"] == "0 2 * * *"
    assert cron["spec"]["timeZone"] == "Asia/Ho_Chi_Minh"
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    (summary,) = pod_spec(cron)["containers"]
    assert summary["command"] == ["vnmeter", "summary", "--previous-quarter"]
    assert env_of(summary)["VNMETER_CLICKHOUSE_URL"] == {
        "secretKeyRef": {"name": secret_name, "key": "clickhouse-url"}
    }

    (migrate_container,) = pod_spec(docs["Job"])["containers"]
    assert migrate_container["command"] == ["vnmeter", "migrate", "--cluster", CLUSTER]
    assert env_of(migrate_container)["VNMETER_CLICKHOUSE_URL"] == {
        "secretKeyRef": {"name": secret_name, "key": "clickhouse-url"}
    }
    images = {
        c["image"]
        for d in docs.values()
        if d["kind"] in {"Deployment", "CronJob", "Job"}
        for c in pod_spec(d)["containers"]
    }
    assert len(images) == 1 and not next(iter(images)).endswith(":latest")


def test_plain_server_crontab_line() -> None:
    lines = [
        line
        for line in (DEPLOY / "cron" / "vnmeter-summary.cron").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert "CRON_TZ=Asia/Ho_Chi_Minh" in lines
    jobs = [line for line in lines if re.match(r"^[\d*]", line)]
    assert len(jobs) == 1
    minute, hour, dom, month, dow, user, command = jobs[0].split(None, 6)
    assert (minute, hour, dom, month, dow) == ("0", "2", "*", "*", "*")
    assert user and "vnmeter summary --previous-quarter" in command


# -- secrets and documentation ---------------------------------------------------------------------------
def deploy_files() -> list[Path]:
    return sorted(
        p
        for p in DEPLOY.rglob("*")
        if p.is_file() and p.name not in LOCAL_ONLY and "__pycache__" not in p.parts
    )


def is_placeholder(value: str) -> bool:
    value = value.strip("'\"")
    return (
        value in PLACEHOLDERS
        or value.startswith("<")
        # a shell or compose expansion ($(openssl rand ...), ${VAR}) is filled in at deploy time
        or "${" in value
        or "$(" in value
        or value == ""
        # the name of an environment variable ($VAR or VAR_NAME) refers to a value, it is not one
        or re.fullmatch(r"\$?[A-Z][A-Z0-9]*(_[A-Z0-9]+)+", value) is not None
    )


SECRET_ASSIGNMENT = re.compile(
    r"(?i)\b[\w-]*(?:password|secret|admin[_-]key|token)[\w-]*[ \t]*[:=][ \t]*(['\"]?[^\s'\"#,;)]+)"
)
URL_CREDENTIALS = re.compile(r"://[\w.-]+:([^@\s/]+)@")


def test_no_literal_passwords_in_deploy() -> None:
    for path in deploy_files():
        text = path.read_text(encoding="utf-8")
        for password in URL_CREDENTIALS.findall(text):
            assert is_placeholder(password), f"{path.relative_to(DEPLOY)}: password in a URL: {password}"
        # ${VAR:?message} / ${VAR:-default} are references filled in at deploy time, not values
        for value in SECRET_ASSIGNMENT.findall(re.sub(r"\$\{[^}]*\}", "${}", text)):
            if value.lower() in {"secretkeyref", "true", "false"}:
                continue
            assert is_placeholder(value), f"{path.relative_to(DEPLOY)}: literal secret {value!r}"
        if path.suffix == ".xml":
            for element in parse_xml(path).iter():
                if element.tag in {"password", "secret", "password_sha256_hex", "password_double_sha1_hex"}:
                    assert not (element.text or "").strip() and element.get("from_env"), (
                        f"{path.relative_to(DEPLOY)}: <{element.tag}> must come from_env"
                    )


def test_the_secret_scan_catches_literals() -> None:
    assert not is_placeholder(URL_CREDENTIALS.findall("http://vnmeter:hunter2@host:8123/db")[0])
    assert not is_placeholder(SECRET_ASSIGNMENT.findall("CLICKHOUSE_PASSWORD=s3cr3t-value")[0])
    assert not is_placeholder(SECRET_ASSIGNMENT.findall("  admin-key: abcdefabcdef0123456789")[0])
    assert is_placeholder(SECRET_ASSIGNMENT.findall("VNMETER_ADMIN_KEY: ${VNMETER_ADMIN_KEY:?set it}")[0])


def test_readme_mentions_every_deploy_file() -> None:
    readme = (DEPLOY / "README.md").read_text(encoding="utf-8")
    missing = [str(p.relative_to(DEPLOY)) for p in deploy_files() if str(p.relative_to(DEPLOY)) not in readme]
    assert not missing, f"deploy/README.md does not mention: {', '.join(missing)}"
    for needed in (
        "CLICKHOUSE_PASSWORD",
        "VNMETER_ADMIN_KEY",
        "CLICKHOUSE_CLUSTER_SECRET",
        "VNMETER_CLUSTER",
        "VNMETER_CACHE_TTL_S",
        "docker compose -f deploy/docker-compose.yml up -d",
        "docker compose -f deploy/docker-compose.cluster.yml up -d",
        "/health/ready",
        "/health/live",
        "/v1/keys",
        "vnmeter migrate --cluster vnmeter",
        "vnmeter summary --previous-quarter",
    ):
        assert needed in readme, needed
