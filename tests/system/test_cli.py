"""The `vnmeter` command run as a user would, in subprocesses on a data directory of their own:
migrate, serve (first admin key, directory lock), platforms import and seal with the service running
(through its API) and stopped (on the store directly)."""

from __future__ import annotations

import csv
import re
import stat
import uuid
from pathlib import Path
from typing import Any

import httpx

from tests.processes import environment, serving, vnmeter

MIGRATIONS = Path(__file__).resolve().parents[2] / "queries" / "migrations" / "single"
PLATFORM_COLUMNS = ["platform_id", "name", "vendor", "origin", "category", "kind", "province"]
RUNNING_IMPORT: list[dict[str, Any]] = [
    {"platform_id": "zalo", "name": "Zalo", "vendor": "vng", "origin": "vn", "category": "communication",
     "kind": "app", "province": None},
    {"platform_id": "hue-s", "name": "Hue-S", "vendor": "hue", "origin": "vn", "category": "public_services",
     "kind": "app", "province": "VN-26"},
    {"platform_id": "facebook", "name": "Facebook", "vendor": "meta", "origin": "foreign", "category": "social",
     "kind": "app", "province": None},
]
STOPPED_IMPORT: list[dict[str, Any]] = [
    {"platform_id": "vnexpress", "name": "VnExpress", "vendor": "fpt", "origin": "vn", "category": "news",
     "kind": "web", "province": None},
    {"platform_id": "grab", "name": "Grab", "vendor": "grab", "origin": "foreign", "category": "mobility",
     "kind": "app", "province": None},
    {"platform_id": "danang-smartcity", "name": "Danang Smart City", "vendor": "danang", "origin": "vn",
     "category": "public_services", "kind": "app", "province": "VN-DN"},
]
def write_csv(path: Path, platforms: list[dict[str, Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=PLATFORM_COLUMNS)
        writer.writeheader()
        writer.writerows({**p, "province": p["province"] or ""} for p in platforms)
    return path


def session(ts: str) -> dict[str, Any]:
    return {"event_id": str(uuid.uuid4()), "platform": "zalo", "user": "cli-user", "ts": ts}


def test_migrate_prints_the_applied_migrations(tmp_path: Path) -> None:
    env = environment(tmp_path / "data")
    shipped = sorted(p.stem for p in MIGRATIONS.glob("*.sql") if re.fullmatch(r"\d{4}_[a-z0-9_]+", p.stem))
    assert shipped[:3] == ["0001_core", "0002_events", "0003_rollups"]

    first = vnmeter("migrate", env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == f"vnmeter: applied migrations: {', '.join(shipped)}"
    again = vnmeter("migrate", env=env, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == "vnmeter: applied migrations: none (schema is up to date)"


def test_bad_input_is_a_message_not_a_traceback(tmp_path: Path) -> None:
    env = environment(tmp_path / "data")
    bad_csv = write_csv(tmp_path / "bad.csv", [{**RUNNING_IMPORT[0], "category": "banking"}])
    imported = vnmeter("platforms", "import", str(bad_csv), env=env, cwd=tmp_path)
    assert imported.returncode == 1
    assert f"{bad_csv}:2: category" in imported.stderr
    sealed = vnmeter("seal", "--before", "2022-2", env=env, cwd=tmp_path)
    assert sealed.returncode == 1
    assert "--before: month must look like YYYY-MM" in sealed.stderr
    for result in (imported, sealed):
        assert "Traceback" not in result.stderr + result.stdout


def test_serve_import_and_seal_with_the_service_running_and_stopped(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = environment(data_dir)
    key_file = (data_dir / "admin.key").resolve()
    running_csv = write_csv(tmp_path / "running.csv", RUNNING_IMPORT)
    stopped_csv = write_csv(tmp_path / "stopped.csv", STOPPED_IMPORT)

    with serving(env, tmp_path, tmp_path / "serve-1.log") as url:
        # (3) the first start creates the admin key in a file only its owner can read, and says where
        assert f"created the first admin key; it is in {key_file}" in (tmp_path / "serve-1.log").read_text()
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        admin_key = key_file.read_text().strip()
        admin = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin_key}"}, timeout=30)
        created = admin.post("/v1/keys", json={"role": "vendor", "vendor": "vng"})
        assert created.status_code == 201
        vendor = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {created.json()['key']}"}, timeout=30)

        # (2) a second process on the same directory: a clear message, exit status 1
        blocked = vnmeter("migrate", env=env, cwd=tmp_path)
        assert blocked.returncode == 1
        assert "in use by another vnmeter process" in blocked.stderr
        assert "Traceback" not in blocked.stderr + blocked.stdout

        # (4) import while the service runs: through its API
        imported = vnmeter("platforms", "import", str(running_csv), env=env, cwd=tmp_path)
        assert imported.returncode == 0, imported.stderr
        assert imported.stdout.strip() == f"vnmeter: imported 3 platforms from {running_csv}"
        assert "using its API" in imported.stderr
        listed = admin.get("/v1/platforms").json()["items"]
        assert sorted(listed, key=lambda p: p["platform_id"]) == sorted(RUNNING_IMPORT, key=lambda p: p["platform_id"])

        # (5) seal while the service runs
        assert vendor.post("/v1/events", json=[session("2022-01-15T10:00:00+07:00")]).json()["accepted"] == 1
        assert vendor.post("/v1/events", json=[session("2022-02-15T10:00:00+07:00")]).json()["accepted"] == 1
        sealed = vnmeter("seal", "--before", "2022-02", env=env, cwd=tmp_path)
        assert sealed.returncode == 0, sealed.stderr
        assert sealed.stdout.strip() == "vnmeter: months before 2022-02 are sealed; destroyed keys of: 2022-01"
        late = vendor.post("/v1/events", json=[session("2022-01-20T10:00:00+07:00")]).json()
        assert [r["reason"] for r in late["rejected"]] == ["month_sealed"]
        admin.close()
        vendor.close()

    # with the service stopped the commands open the store themselves
    imported = vnmeter("platforms", "import", str(stopped_csv), env=env, cwd=tmp_path)
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.strip().endswith(f"vnmeter: imported 3 platforms from {stopped_csv}")
    sealed = vnmeter("seal", "--before", "2022-03", env=env, cwd=tmp_path)
    assert sealed.returncode == 0, sealed.stderr
    assert sealed.stdout.strip().endswith("vnmeter: months before 2022-03 are sealed; destroyed keys of: 2022-02")
    earlier = vnmeter("seal", "--before", "2022-01", env=env, cwd=tmp_path)
    assert earlier.returncode == 0, earlier.stderr
    assert earlier.stdout.strip().endswith(
        "vnmeter: months before 2022-03 are sealed (asked for 2022-01; months before 2022-03 were sealed already); "
        "destroyed keys of: none")

    with serving(env, tmp_path, tmp_path / "serve-2.log") as url:
        assert "created the first admin key" not in (tmp_path / "serve-2.log").read_text()
        assert key_file.read_text().strip() == admin_key
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin_key}"}, timeout=30) as admin:
            listed = admin.get("/v1/platforms").json()["items"]
            expected = RUNNING_IMPORT + STOPPED_IMPORT
            assert sorted(listed, key=lambda p: p["platform_id"]) == sorted(expected, key=lambda p: p["platform_id"])
            key = admin.post("/v1/keys", json={"role": "vendor", "vendor": "vng"}).json()["key"]
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as vendor:
            answer = vendor.post("/v1/events", json=[session("2022-02-20T10:00:00+07:00"),
                                                     session("2022-03-20T10:00:00+07:00")]).json()
            assert answer["accepted"] == 1
            assert [r["reason"] for r in answer["rejected"]] == ["month_sealed"]
