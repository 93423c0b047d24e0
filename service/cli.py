"""The `vnmeter` command: serve, migrate, platforms import, seal, keys create.

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

from queries.store import Store, StoreError, StoreLocked
from service.settings import Settings

SERVICE_FILE = "service.json"
PLATFORM_COLUMNS = ("platform_id", "name", "vendor", "origin", "category", "kind", "province")


class CliError(Exception):
    """A message for the user; the command exits with status 1."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="vnmeter", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the HTTP API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
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
    demo = commands.add_parser("demo", help="fill an empty store with the Q1/2022 demonstration dataset")
    demo.add_argument("--users-scale", type=int, default=2000, help="1 demo user stands for this many (default 2000)")
    demo.add_argument("--visits-scale", type=int, default=10000,
                      help="1 demo website visit stands for this many (default 10000)")
    args = parser.parse_args(argv)
    try:
        settings = Settings()
        handler: Callable[[Settings, argparse.Namespace], int] = HANDLERS[args.command]
        return handler(settings, args)
    except ValidationError as exc:
        problems = "; ".join(f"VNMETER_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors())
        print(f"vnmeter: invalid settings: {problems}", file=sys.stderr)
    except (CliError, StoreError) as exc:
        print(f"vnmeter: {exc}", file=sys.stderr)
    return 1


# The request path allocates a few objects per event (rows, keys) and keeps groups of up to 100,000 events
# alive while they are stored; at Python's default threshold (700 allocations) the cyclic collector ran every
# few hundred events and walked those live objects: 7-8% of the service's CPU under perf. Young objects are
# collected every 50,000 allocations instead: 6-10% more events/s (docs/PERFORMANCE.md).
GC_THRESHOLDS = (50_000, 20, 20)


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from service.app import create_app

    # chDB: take the directory now, so that a second process stops here with a clear message.
    store = Store(settings.target) if settings.target.is_embedded else None
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    service_file = settings.data_dir / SERVICE_FILE
    host = "127.0.0.1" if args.host in {"0.0.0.0", "::"} else args.host  # noqa: S104 - reaching it locally
    service_file.write_text(json.dumps({"url": f"http://{host}:{args.port}", "pid": os.getpid()}))
    where = store.describe() if store else settings.target.dsn.split("@")[-1]
    print(f"vnmeter: serving on http://{args.host}:{args.port} with data in {where}", flush=True)
    app = create_app(settings, store)
    gc.freeze()  # what start-up created is never garbage: keep it out of every collection
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level="info", timeout_keep_alive=5)
    finally:
        service_file.unlink(missing_ok=True)
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
                if not PLATFORM_ID.match(platform_id):
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
    from ingest.vntime import parse_month

    try:
        before = parse_month(args.before)
    except ValueError as exc:
        raise CliError(f"--before: {exc}") from None
    try:
        with services_for_cli(settings) as ctx:
            months = [f"{m:%Y-%m}" for m in ctx.pseudonym_keys.seal(before)]
    except StoreLocked:
        with running_service(settings) as client:
            months = expect(client.post("/v1/admin/seal", json={"before": args.before}), 200)["destroyed_months"]
    print(f"vnmeter: months before {before:%Y-%m} are sealed; destroyed keys of: {', '.join(months) or 'none'}")
    return 0


def cmd_keys(settings: Settings, args: argparse.Namespace) -> int:
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
            target.parent.mkdir(parents=True, exist_ok=True)
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


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    from service.demo import DemoError, headline, run_demo

    if args.users_scale < 1 or args.visits_scale < 1:
        raise CliError("--users-scale and --visits-scale must be at least 1")
    try:
        with services_for_cli(settings) as ctx:
            result = run_demo(ctx, args.users_scale, args.visits_scale)
    except StoreLocked:
        raise CliError("`vnmeter serve` holds the data directory; stop it first, or run the demo on a fresh one: "
                       "VNMETER_DATA_DIR=./vnmeter-demo vnmeter demo") from None
    except DemoError as exc:
        raise CliError(str(exc)) from None
    print(f"vnmeter demo: summary of {result.version.period} (version {result.version.version}); headline figures "
          "multiplied back by the scale:")
    for line in headline(result.version):
        print(f"  {line}")
    print(f"vnmeter demo: done in {result.seconds:.0f} s. Open the summary: {result.files['html']}")
    print(f"  also {result.files['xlsx']}, {result.files['md']}, {result.files['json']}")
    return 0


HANDLERS: dict[str, Callable[[Settings, argparse.Namespace], int]] = {
    "serve": cmd_serve, "migrate": cmd_migrate, "platforms": cmd_platforms, "seal": cmd_seal, "keys": cmd_keys,
    "summary": cmd_summary, "demo": cmd_demo,
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


@contextmanager
def running_service(settings: Settings) -> Iterator[httpx.Client]:
    """An admin HTTP client for the `vnmeter serve` that holds the data directory."""
    service_file = settings.data_dir / SERVICE_FILE
    if not service_file.exists():
        raise CliError(f"the data directory {settings.data_dir} is locked by another process that is not a "
                       "running `vnmeter serve`; stop it and retry")
    url = json.loads(service_file.read_text())["url"]
    if settings.admin_key:
        key = settings.admin_key.get_secret_value()
    else:
        key_file = settings.data_dir / "admin.key"
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
