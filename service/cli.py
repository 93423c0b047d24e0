"""The `vnmeter` command: serve, migrate, platforms import, seal, keys create/list/revoke, summary, demo,
send, verify, doctor.

Commands that change data open the store directly. With chDB only one process may open the data
directory; when `vnmeter serve` holds it, those commands go through the running service's HTTP API
instead, using the admin key from VNMETER_ADMIN_KEY or the data directory's admin.key file.
"""

from __future__ import annotations

import argparse
import csv
import gc
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
from pydantic import ValidationError

from queries.store import Store, StoreError, StoreLocked, private_directory
from service.context import ADMIN_KEY_FILE, AdminKeyFileExists
from service.server import ListenError
from service.settings import SenderSettings, Settings

SERVICE_FILE = "service.json"
DEMO_DIR = "var/demo"
"""Where the messages suggest a demo of its own: inside ./var, which git ignores."""
PLATFORM_COLUMNS = ("platform_id", "name", "vendor", "origin", "category", "kind", "province")


class CliError(Exception):
    """A message for the user; the command exits with status 1."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="vnmeter", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the HTTP API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--health-port", type=int, help="also answer /health/live and /health/ready (only) on this "
                       "port, from a process of its own: in milliseconds, however busy or full the API port is")
    migrate = commands.add_parser("migrate", help="create or update the schema")
    migrate.add_argument("--cluster", help="apply the cluster variant ON CLUSTER this name")
    platforms = commands.add_parser("platforms", help="platform registry")
    platforms_commands = platforms.add_subparsers(dest="action", required=True)
    importer = platforms_commands.add_parser("import", help="load platforms from a CSV file")
    importer.add_argument("file", type=Path, help=f"CSV with columns {', '.join(PLATFORM_COLUMNS)}")
    seal = commands.add_parser("seal", help="destroy the pseudonym keys of months before a month")
    seal.add_argument("--before", required=True, metavar="YYYY-MM")
    keys = commands.add_parser("keys", help="API keys")
    keys_commands = keys.add_subparsers(dest="action", required=True)
    create = keys_commands.add_parser("create", help="create an API key and print it once")
    create.add_argument("--role", required=True, choices=["admin", "vendor", "analyst"])
    create.add_argument("--vendor")
    keys_commands.add_parser("list", help="list the keys: id, role, vendor, created, revoked (never a key)")
    revoke = keys_commands.add_parser("revoke", help="revoke a key by its id (see `vnmeter keys list`)")
    revoke.add_argument("id")
    summary = commands.add_parser("summary", help="generate a period's summary (a new version) and write its files")
    summary.add_argument("period", nargs="*", metavar="PERIOD",
                         help="YYYY-Qn, YYYY-Hn, YYYY or YYYY-MM; `verify PERIOD [--version N]` recomputes a "
                              "published version from the stored data and says which figures differ")
    summary.add_argument("--version", type=int, help="with verify: the version to check (default: the latest)")
    summary.add_argument("--previous-quarter", action="store_true",
                         help="the due previous quarter, only if its scheduled summary is not made yet (for cron)")
    summary.add_argument("--format", choices=["json", "md", "html", "xlsx", "csv"],
                         help="also print (or write to --out) the summary in this format")
    summary.add_argument("--lang", choices=["vi", "en"], default="vi")
    summary.add_argument("--out", type=Path, help="write the --format output to this file instead of stdout")
    verify = commands.add_parser("verify", help="compare every rollup with the raw events of a period")
    verify.add_argument("--period", required=True, help="YYYY-MM, YYYY-Qn, YYYY-Hn or YYYY")
    verify.add_argument("--repair", action="store_true", help="rebuild what differs, then compare again")
    commands.add_parser("doctor", help="schema level, unfinished and quarantined ingestion inserts")
    demo = commands.add_parser("demo", help="fill an empty store with the Q1/2022 demonstration dataset")
    demo.add_argument("--users-scale", type=int, default=2000, help="1 demo user stands for this many (default 2000)")
    demo.add_argument("--visits-scale", type=int, default=10000,
                      help="1 demo website visit stands for this many (default 10000)")
    send = commands.add_parser("send", help="send the events of an NDJSON file to the service (resumable)")
    send.add_argument("file", type=Path, help="events, one JSON object a line; gzip-compressed or not")
    send.add_argument("--url", help="the service (default VNMETER_URL, else the `vnmeter serve` of the data directory)")
    send.add_argument("--key", help="a vendor key (default VNMETER_KEY)")
    send.add_argument("--queue", type=Path,
                      help="the queue file (default: one per file content under VNMETER_DATA_DIR/send/)")
    send.add_argument("--batch-size", type=int, default=1000, help="events per request (default 1000)")
    send.add_argument("--progress", action="store_true", help="show the progress bar even when not on a terminal")
    args = parser.parse_args(argv)
    # The data directory holds the pseudonym keys (chDB), the admin key and the summaries: whatever vnmeter or
    # chDB creates there is for this user only (directories 0700, files 0600).
    os.umask(0o077)
    try:
        settings = Settings()
        handler: Callable[[Settings, argparse.Namespace], int] = HANDLERS[args.command]
        return handler(settings, args)
    except ValidationError as exc:
        problems = "; ".join(f"VNMETER_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors())
        print(f"vnmeter: invalid settings: {problems}", file=sys.stderr)
    except (CliError, StoreError, AdminKeyFileExists, ListenError) as exc:
        print(f"vnmeter: {exc}", file=sys.stderr)
    return 1


# The request path allocates a few objects per event (rows, keys) and keeps groups of up to 100,000 events
# alive while they are stored; at Python's default threshold (700 allocations) the cyclic collector ran every
# few hundred events and walked those live objects: 7-8% of the service's CPU under perf. Young objects are
# collected every 50,000 allocations instead: 6-10% more events/s (docs/decisions/0004-gc-thresholds.md).
GC_THRESHOLDS = (50_000, 20, 20)


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    from service.app import create_app
    from service.health import HealthProcess
    from service.server import ServerLimits, serve

    # chDB: take the directory now, so that a second process stops here with a clear message.
    store = Store(settings.target) if settings.target.is_embedded else None
    service_file = private_directory(settings.data_dir) / SERVICE_FILE
    host = "127.0.0.1" if args.host in {"0.0.0.0", "::"} else args.host  # noqa: S104 - reaching it locally
    service_file.write_text(json.dumps({"url": f"http://{host}:{args.port}", "pid": os.getpid()}))
    where = store.describe() if store else settings.target.dsn.split("@")[-1]
    health = HealthProcess(args.host, args.health_port) if args.health_port else None
    also = f" (health probes also on port {args.health_port})" if health else ""
    print(f"vnmeter: serving on http://{args.host}:{args.port}{also} with data in {where}", flush=True)
    app = create_app(settings, store)
    tick = health.heartbeat(lambda: app.state.services is not None and app.state.services.store.ping()) \
        if health else None
    gc.freeze()  # what start-up created is never garbage: keep it out of every collection
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        serve(app, args.host, args.port, ServerLimits(settings.max_connections), tick)
    finally:
        service_file.unlink(missing_ok=True)
        if health:
            health.stop()
    return 0


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    from queries.migrate import migrate

    with open_store(settings) as store:
        applied = migrate(store, args.cluster or settings.cluster)
    names = ", ".join(f"{m.version:04d}_{m.name}" for m in applied) or "none (schema is up to date)"
    print(f"vnmeter: applied migrations: {names}")
    return 0


def cmd_platforms(settings: Settings, args: argparse.Namespace) -> int:
    from service.routes.platforms import PlatformIn

    rows = read_platform_csv(args.file)
    bodies = []
    for line, row in rows:
        platform_id = row.pop("platform_id")
        try:
            body = PlatformIn.model_validate({**row, "province": row.get("province") or None})
        except ValidationError as exc:
            problem = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise CliError(f"{args.file}:{line}: {problem}") from None
        bodies.append((platform_id, body))
    try:
        with services_for_cli(settings) as ctx:
            from queries.registry import PLATFORM_ID, Platform

            for platform_id, body in bodies:
                if not PLATFORM_ID.fullmatch(platform_id):
                    raise CliError(f"platform_id {platform_id!r} must match {PLATFORM_ID.pattern}")
                if body.province and body.province not in ctx.registry.provinces():
                    raise CliError(f"{platform_id}: province {body.province!r} is not in the province list")
                ctx.registry.put_platform(Platform(platform_id, **body.model_dump()))
    except StoreLocked:
        with running_service(settings) as client:
            for platform_id, body in bodies:
                expect(client.put(f"/v1/platforms/{platform_id}", json=body.model_dump()), 200)
    print(f"vnmeter: imported {len(bodies)} platforms from {args.file}")
    return 0


def cmd_seal(settings: Settings, args: argparse.Namespace) -> int:
    from ingest.seal import seal
    from ingest.vntime import parse_month

    try:
        before = parse_month(args.before)
    except ValueError as exc:
        raise CliError(f"--before: {exc}") from None
    try:
        with services_for_cli(settings) as ctx:
            sealed = seal(ctx.store, before).as_dict()
    except StoreLocked:
        with running_service(settings) as client:
            sealed = expect(client.post("/v1/admin/seal", json={"before": args.before}), 200)
    print(seal_message(sealed))
    return 0


def seal_message(sealed: dict[str, Any]) -> str:
    months = ", ".join(sealed["destroyed_months"]) or "none"
    earlier = (f" (asked for {sealed['requested']}; months before {sealed['sealed_before']} were sealed already)"
               if sealed["requested"] != sealed["sealed_before"] else "")
    return f"vnmeter: months before {sealed['sealed_before']} are sealed{earlier}; destroyed keys of: {months}"


def cmd_keys(settings: Settings, args: argparse.Namespace) -> int:
    if args.action == "list":
        return keys_list(settings)
    if args.action == "revoke":
        return keys_revoke(settings, args.id)
    if (args.role == "vendor") != bool(args.vendor):
        raise CliError("--vendor is required for a vendor key and not allowed otherwise")
    try:
        with services_for_cli(settings) as ctx:
            key_id, key = ctx.keys.create(args.role, args.vendor)
    except StoreLocked:
        with running_service(settings) as client:
            body = {"role": args.role, **({"vendor": args.vendor} if args.vendor else {})}
            created = expect(client.post("/v1/keys", json=body), 201)
            key_id, key = created["id"], created["key"]
    print(json.dumps({"id": key_id, "key": key, "role": args.role, "vendor": args.vendor}))
    return 0


KEY_COLUMNS = ("id", "role", "vendor", "created_at", "revoked")


def keys_list(settings: Settings) -> int:
    try:
        with services_for_cli(settings) as ctx:
            items = ctx.keys.listing()
    except StoreLocked:
        with running_service(settings) as client:
            items = expect(client.get("/v1/keys"), 200)["items"]
    rows = [KEY_COLUMNS] + [tuple(_shown(item[c]) for c in KEY_COLUMNS) for item in items]
    widths = [max(len(row[i]) for row in rows) for i in range(len(KEY_COLUMNS))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return 0


def _shown(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def keys_revoke(settings: Settings, key_id: str) -> int:
    try:
        with services_for_cli(settings) as ctx:
            revoked = ctx.keys.revoke(key_id)
    except StoreLocked:
        with running_service(settings) as client:
            response = client.delete(f"/v1/keys/{key_id}")
            revoked = response.status_code == 204
            if response.status_code not in {204, 404}:
                expect(response, 204)
    if not revoked:
        raise CliError(f"no active key with id {key_id!r} (`vnmeter keys list` shows the keys)")
    print(f"vnmeter: revoked key {key_id}")
    return 0


def cmd_summary(settings: Settings, args: argparse.Namespace) -> int:
    from queries.periods import parse_period
    from service.summaries import summaries_of
    from service.summaries.render import render, write_files

    if args.period[:1] == ["verify"]:
        return summary_verify(settings, args)
    if len(args.period) > 1:
        raise CliError(f"give one period, got {' '.join(args.period)!r} (or: vnmeter summary verify PERIOD)")
    if args.version is not None:
        raise CliError("--version is for `vnmeter summary verify PERIOD --version N`")
    args.period = args.period[0] if args.period else None
    if bool(args.period) == args.previous_quarter:
        raise CliError("give a period (such as 2022-Q1) or --previous-quarter, not both")
    if args.out and not args.format:
        raise CliError("--out needs --format")
    if args.format == "xlsx" and not args.out:
        raise CliError("--format xlsx needs --out FILE (a spreadsheet is not printed)")
    if args.previous_quarter:
        return summary_previous_quarter(settings, args)
    try:
        period = parse_period(args.period)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    try:
        with services_for_cli(settings) as ctx:
            version = summaries_of(ctx).generate(period, "cli", "cli")
            files = write_files(version, settings.data_dir)
            output = render(version, args.format, args.lang) if args.format else None
            number = version.version
    except StoreLocked:
        number, files, output = summary_through_service(settings, period.label, args)
    return _emit(output, args.out, period.label, number, files)


def summary_previous_quarter(settings: Settings, args: argparse.Namespace) -> int:
    """The cron job: make the due previous quarter's summary unless the scheduler or an earlier run made it."""
    from queries.summaries import SummaryRuns
    from service.scheduler import latest_due_quarter, local_today, run_quarter
    from service.summaries import summaries_of
    from service.summaries.render import render

    quarter = latest_due_quarter(local_today(datetime.now(UTC), settings.zone), settings.summary_delay_days)
    try:
        with services_for_cli(settings) as ctx:
            if quarter.label in SummaryRuns(ctx.store).done_periods():
                print(f"vnmeter: the summary of {quarter.label} is already made; nothing to do")
                return 0
            outcome = run_quarter(ctx, quarter, "cli")
            if outcome is None:
                print(f"vnmeter: another process is making the summary of {quarter.label}; nothing to do")
                return 0
            version = summaries_of(ctx).get(quarter.label, outcome.version)
            assert version is not None
            output = render(version, args.format, args.lang) if args.format else None
    except StoreLocked:
        print(f"vnmeter: `vnmeter serve` holds the data directory; its scheduler makes the summary of "
              f"{quarter.label} when it is due", file=sys.stderr)
        return 0
    return _emit(output, args.out, quarter.label, outcome.version, outcome.files)


def summary_verify(settings: Settings, args: argparse.Namespace) -> int:
    """`vnmeter summary verify PERIOD [--version N]`: 0 when the published figures (and the version's files in
    the data directory) equal what the stored data gives now; 1 naming each figure or file that differs."""
    from queries.manifest import sha256
    from queries.periods import parse_period
    from service.summaries import summaries_of
    from service.summaries.render import file_manifest

    if len(args.period) != 2:
        raise CliError("usage: vnmeter summary verify PERIOD [--version N]")
    try:
        period = parse_period(args.period[1]).label
    except ValueError as exc:
        raise CliError(str(exc)) from None
    try:
        with services_for_cli(settings) as ctx:
            summaries = summaries_of(ctx)
            version = summaries.get(period, args.version)
            if version is None:
                raise CliError(f"no summary of {period}" + (f" version {args.version}" if args.version else ""))
            number = version.version
            differences = [vars(d) for d in summaries.verify(version)]
            hashes = file_manifest(version)["files"]
    except StoreLocked:
        with running_service(settings) as client:
            if args.version is None:
                args.version = expect(client.get(f"/v1/summaries/{period}"), 200)["version"]
            base = f"/v1/summaries/{period}/versions/{args.version}"
            number = args.version
            differences = expect(client.get(f"{base}/verification"), 200)["differences"]
            hashes = expect(client.get(f"{base}/manifest"), 200)["files"]
    folder = settings.data_dir / "summaries" / period
    changed_files = [name for name, digest in sorted(hashes.items())
                     if (folder / name).exists() and sha256((folder / name).read_bytes()) != digest]
    if not differences and not changed_files:
        checked = [name for name in sorted(hashes) if (folder / name).exists()]
        print(f"vnmeter: summary of {period} version {number} verified: every figure equals the one recomputed "
              f"from the stored data" + (f"; files unchanged: {', '.join(checked)}" if checked else ""))
        return 0
    print(f"vnmeter: summary of {period} version {number} does NOT hold: {len(differences)} figures differ "
          f"from the stored data, {len(changed_files)} files differ from the published ones", file=sys.stderr)
    for difference in differences:
        print(f"  {difference['figure']}: published {difference['published']!r}, recomputed "
              f"{difference['recomputed']!r}", file=sys.stderr)
    for name in changed_files:
        print(f"  file {folder / name}: SHA-256 differs from the manifest's", file=sys.stderr)
    return 1


def summary_through_service(settings: Settings, period: str, args: argparse.Namespace
                            ) -> tuple[int, dict[str, Path], bytes | None]:
    """Generate through the running service's API and write the version's files into the data directory."""
    from service.summaries.render import FILE_FORMATS

    with running_service(settings) as client:
        number = expect(client.post(f"/v1/summaries/{period}"), 201)["version"]
        path = f"/v1/summaries/{period}/versions/{number}"
        files = {}
        for fmt in FILE_FORMATS:
            response = client.get(path, params={"format": fmt})
            if response.status_code != 200:
                raise CliError(f"GET {path}?format={fmt} answered {response.status_code}: {response.text[:300]}")
            target = settings.data_dir / "summaries" / period / f"v{number}.{fmt}"
            private_directory(target.parent)
            target.write_bytes(response.content)
            files[fmt] = target.resolve()
        target = settings.data_dir / "summaries" / period / f"v{number}.manifest.json"
        target.write_bytes(orjson.dumps(expect(client.get(f"{path}/manifest"), 200), option=orjson.OPT_INDENT_2))
        files["manifest"] = target.resolve()
        output = None
        if args.format:
            response = client.get(path, params={"format": args.format, "lang": args.lang})
            if response.status_code != 200:
                raise CliError(f"GET {path} answered {response.status_code}: {response.text[:300]}")
            output = response.content
    return number, files, output


def _emit(output: bytes | None, out: Path | None, period: str, number: int, files: dict[str, Path]) -> int:
    """Write the requested format to --out or stdout, and say where the version's files are."""
    if output is not None and out is None:
        sys.stdout.buffer.write(output)
        sys.stdout.flush()
    elif output is not None and out is not None:
        out.write_bytes(output)
    stream = sys.stderr if output is not None and out is None else sys.stdout
    print(f"vnmeter: summary of {period} version {number}: {files['html']} (also .md, .xlsx, .json)"
          + (f"; {out}" if out else ""), file=stream)
    return 0


def cmd_verify(settings: Settings, args: argparse.Namespace) -> int:
    from queries.periods import parse_period
    from service import maintenance

    try:
        period = parse_period(args.period)
    except ValueError as exc:
        raise CliError(f"--period: {exc}") from None
    try:
        with services_for_cli(settings) as ctx:
            try:
                answer = maintenance.verify(ctx, period, args.repair)
            except ValueError as exc:
                raise CliError(str(exc)) from None
    except StoreLocked:
        with running_service(settings) as client:
            answer = expect(client.post("/v1/admin/verify", json={"period": period.label, "repair": args.repair}),
                            200)
    for line in answer["differences"]:
        print(f"differs: {line}")
    for line in answer["repaired"]:
        print(f"repaired: {line}")
    left = answer.get("differences_after_repair", answer["differences"])
    print(f"vnmeter: {period.label}: {len(answer['differences'])} differences between the rollups and the raw events"
          + (f"; {len(left)} after the repair" if args.repair and answer["differences"] else ""))
    return 1 if left else 0


def cmd_doctor(settings: Settings, args: argparse.Namespace) -> int:
    from service import maintenance

    try:
        with services_for_cli(settings) as ctx:
            report = maintenance.doctor(ctx)
    except StoreLocked:
        with running_service(settings) as client:
            report = expect(client.get("/v1/admin/doctor"), 200)
    print(f"store: {report['store']}")
    print(f"schema version: {report['schema_version']}")
    print(f"ingestion inserts not yet marked done: {report['journal_pending']}")
    print(f"quarantined inserts: {len(report['quarantined'])}")
    for item in report["quarantined"]:
        print(f"  {item['token']} ({item['bytes']} bytes, {item['at']}): {item['error']}")
    return 1 if report["quarantined"] else 0


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    from service.demo import DemoError, headline, run_demo

    if args.users_scale < 1 or args.visits_scale < 1:
        raise CliError("--users-scale and --visits-scale must be at least 1")
    try:
        with services_for_cli(settings) as ctx:
            result = run_demo(ctx, args.users_scale, args.visits_scale)
    except StoreLocked:
        raise CliError("`vnmeter serve` holds the data directory; stop it first, or run the demo on a fresh one: "
                       f"VNMETER_DATA_DIR={DEMO_DIR} python3 dev.py vnmeter demo") from None
    except DemoError as exc:
        raise CliError(str(exc)) from None
    print(f"vnmeter demo: summary of {result.version.period} (version {result.version.version}); headline figures "
          "multiplied back by the scale:")
    for line in headline(result.version):
        print(f"  {line}")
    print(f"vnmeter demo: done in {result.seconds:.0f} s. Open the summary: {result.files['html']}")
    print(f"  also {result.files['xlsx']}, {result.files['md']}, {result.files['json']}")
    print(f"vnmeter demo: to see it in the dashboard, run `python3 dev.py serve`{_data_dir_prefix(settings)}, open "
          f"http://127.0.0.1:8000/ and sign in with the admin key in {(settings.data_dir / ADMIN_KEY_FILE).resolve()}")
    return 0


def cmd_send(settings: Settings, args: argparse.Namespace) -> int:
    from service.send import SendFailed, send_file

    sender = SenderSettings()
    url = args.url or sender.url or local_service_url(settings)
    key = args.key or (sender.key.get_secret_value() if sender.key else None)
    if not url:
        raise CliError("no service to send to: give --url URL or set VNMETER_URL")
    if not key:
        raise CliError("a vendor key is needed: give --key KEY or set VNMETER_KEY")
    if not args.file.is_file():
        raise CliError(f"{args.file}: no such file")
    try:
        return send_file(url, key, args.file, args.queue, settings.data_dir / "send", args.batch_size, args.progress)
    except SendFailed as exc:
        raise CliError(str(exc)) from None


def _data_dir_prefix(settings: Settings) -> str:
    """How to name the demo's data directory again, when it is not the default one."""
    if settings.data_dir.resolve() == Path("var").resolve():
        return ""
    return f" with VNMETER_DATA_DIR={settings.data_dir}"


HANDLERS: dict[str, Callable[[Settings, argparse.Namespace], int]] = {
    "serve": cmd_serve, "migrate": cmd_migrate, "platforms": cmd_platforms, "seal": cmd_seal, "keys": cmd_keys,
    "summary": cmd_summary, "demo": cmd_demo, "verify": cmd_verify, "doctor": cmd_doctor, "send": cmd_send,
}


# -- helpers -------------------------------------------------------------------------------------
@contextmanager
def open_store(settings: Settings) -> Iterator[Store]:
    store = Store(settings.target)
    try:
        yield store
    finally:
        store.close()


@contextmanager
def services_for_cli(settings: Settings) -> Iterator[Any]:
    """The service objects on a directly opened store (raises StoreLocked while `serve` runs on chDB)."""
    from service.context import build

    store = Store(settings.target)
    ctx = build(settings, store)
    try:
        yield ctx
    finally:
        ctx.close()


def local_service_url(settings: Settings) -> str | None:
    """The address of the `vnmeter serve` running on the data directory, if one is."""
    service_file = settings.data_dir / SERVICE_FILE
    if not service_file.exists():
        return None
    url: str = json.loads(service_file.read_text())["url"]
    return url


@contextmanager
def running_service(settings: Settings) -> Iterator[httpx.Client]:
    """An admin HTTP client for the `vnmeter serve` that holds the data directory."""
    url = local_service_url(settings)
    if url is None:
        raise CliError(f"the data directory {settings.data_dir} is locked by another process that is not a "
                       "running `vnmeter serve`; stop it and retry")
    if settings.admin_key:
        key = settings.admin_key.get_secret_value()
    else:
        key_file = settings.data_dir / ADMIN_KEY_FILE
        if not key_file.exists():
            raise CliError("the service is running; set VNMETER_ADMIN_KEY so this command can use its API")
        key = key_file.read_text().strip()
    print(f"vnmeter: the service at {url} holds the data directory; using its API", file=sys.stderr)
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as client:
        yield client


def expect(response: httpx.Response, status: int) -> Any:
    if response.status_code != status:
        raise CliError(f"{response.request.method} {response.request.url.path} answered {response.status_code}: "
                       f"{response.text[:300]}")
    return response.json()


def read_platform_csv(path: Path) -> list[tuple[int, dict[str, str]]]:
    if not path.exists():
        raise CliError(f"{path}: no such file")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in PLATFORM_COLUMNS if c != "province" and c not in (reader.fieldnames or [])]
        if missing:
            raise CliError(f"{path}: missing columns {', '.join(missing)}; expected {', '.join(PLATFORM_COLUMNS)}")
        return [(number, {k: (v or "").strip() for k, v in row.items() if k in PLATFORM_COLUMNS})
                for number, row in enumerate(reader, start=2)]


if __name__ == "__main__":
    sys.exit(main())
