"""Files vnmeter writes: the data directory, the chDB directory (pseudonym keys) and everything in them are
for the service's user only, and the first admin key's file is created new, never over a file or a link."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import httpx
import pytest

from queries.apikeys import ApiKeys
from queries.store import Store
from service.context import AdminKeyFileExists, bootstrap_admin_key
from tests.factories import event
from tests.processes import environment, serving, vnmeter


def test_a_link_planted_at_the_admin_key_file_is_not_followed(store: Store, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    elsewhere = tmp_path / "readable-by-the-attacker"
    elsewhere.write_text("the attacker's file\n")
    (data_dir / "admin.key").symlink_to(elsewhere)
    keys = ApiKeys(store, 0)
    with pytest.raises(AdminKeyFileExists, match="admin.key already exists, but the database has no admin key"):
        bootstrap_admin_key(keys, data_dir)
    assert elsewhere.read_text() == "the attacker's file\n"
    assert (data_dir / "admin.key").is_symlink()
    assert not keys.has_admin()  # refused before a key was made


def test_a_dangling_link_or_an_existing_file_is_not_written_either(store: Store, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    target = tmp_path / "would-be-created"
    (data_dir / "admin.key").symlink_to(target)
    keys = ApiKeys(store, 0)
    with pytest.raises(AdminKeyFileExists):
        bootstrap_admin_key(keys, data_dir)
    assert not target.exists()
    (data_dir / "admin.key").unlink()
    (data_dir / "admin.key").write_text("an old key\n")
    with pytest.raises(AdminKeyFileExists):
        bootstrap_admin_key(keys, data_dir)
    assert (data_dir / "admin.key").read_text() == "an old key\n"
    (data_dir / "admin.key").unlink()
    path = bootstrap_admin_key(keys, data_dir)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert keys.has_admin()


def test_the_command_line_refuses_with_a_message(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "admin.key").symlink_to(tmp_path / "elsewhere")
    refused = vnmeter("keys", "create", "--role", "analyst", env=environment(data_dir), cwd=tmp_path)
    assert refused.returncode == 1
    assert f"vnmeter: {data_dir.resolve() / 'admin.key'} already exists, but the database has no admin key" \
        in refused.stderr
    assert "Traceback" not in refused.stderr
    assert not (tmp_path / "elsewhere").exists()


def test_what_vnmeter_writes_is_for_its_user_only(tmp_path: Path) -> None:
    """`vnmeter serve` started with umask 022 in a data directory an operator made 0755, then events, a
    summary through the running service and one with the service stopped: nothing under the data directory, itself
    included, grants any permission to group or others (chDB's own files included)."""
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o755)
    os.chmod(data_dir, 0o755)  # noqa: S103 - the wide directory an operator may have made
    env = environment(data_dir)
    with serving(env, tmp_path, tmp_path / "serve.log", umask=0o022) as url:
        admin_key = (data_dir / "admin.key").read_text().strip()
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin_key}"}, timeout=30) as admin:
            body = {"name": "Zalo", "vendor": "vng", "origin": "vn", "category": "communication", "kind": "app",
                    "province": None}
            assert admin.put("/v1/platforms/zalo", json=body).status_code == 200
            key = admin.post("/v1/keys", json={"role": "vendor", "vendor": "vng"}).json()["key"]
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as vendor:
            answer = vendor.post("/v1/events", json=[event(ts="2022-01-15T10:00:00+07:00", user="cli-user")]).json()
            assert answer["accepted"] == 1
        through_service = vnmeter("summary", "2022-Q1", env=env, cwd=tmp_path)
        assert through_service.returncode == 0, through_service.stderr
    stopped = vnmeter("summary", "2022-Q1", env=env, cwd=tmp_path)
    assert stopped.returncode == 0, stopped.stderr

    seen = {"admin.key", "clickhouse", "summaries", "v1.json", "v2.json", "vnmeter.lock"}
    names = set()
    wider = []
    for path in [data_dir, *data_dir.rglob("*")]:
        names.add(path.name)
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode):
            continue
        if stat.S_IMODE(info.st_mode) & 0o077:
            wider.append(f"{stat.S_IMODE(info.st_mode):o} {path.relative_to(tmp_path)}")
    assert seen <= names
    assert wider == []
