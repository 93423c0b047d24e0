"""Keys listed and revoked (GET /v1/keys, `vnmeter keys list|revoke`) without ever showing a key or its hash, and
what the dashboard reads at sign-in: GET /v1/me (who the key is) and GET /v1/dataset (demo scale, months)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

from queries.store import Store
from tests.factories import ADMIN, bearer, event, running_api
from tests.processes import environment, serving, vnmeter


def test_admins_list_keys_with_their_state_never_the_key(store: Store, tmp_path: Path) -> None:
    with running_api(store, tmp_path, cache_ttl_s=0) as api:
        before = datetime.now(UTC)
        analyst = api.create_key("analyst")
        vendor = api.create_key("vendor", "vng")
        assert api.client.delete(f"/v1/keys/{vendor['id']}", headers=ADMIN).status_code == 204
        answer = api.client.get("/v1/keys", headers=ADMIN)
        assert answer.status_code == 200
        items = answer.json()["items"]
        assert [(i["id"], i["role"], i["vendor"], i["revoked"]) for i in items] == \
            [(analyst["id"], "analyst", None, False), (vendor["id"], "vendor", "vng", True)]
        for item in items:
            assert set(item) == {"id", "role", "vendor", "created_at", "revoked"}
            assert before <= datetime.fromisoformat(item["created_at"]) <= datetime.now(UTC)
        for key in (analyst["key"], vendor["key"]):
            assert key not in answer.text
            assert hashlib.sha256(key.encode()).hexdigest() not in answer.text
        assert api.client.get("/v1/keys", headers=bearer(analyst["key"])).status_code == 403
        assert api.client.get("/v1/keys", headers=bearer(vendor["key"])).status_code == 401  # revoked


def test_me_says_who_the_key_is(store: Store, tmp_path: Path) -> None:
    with running_api(store, tmp_path) as api:
        analyst = api.create_key("analyst")
        vendor = api.create_key("vendor", "vng")
        assert api.client.get("/v1/me", headers=bearer(analyst["key"])).json() == \
            {"key_id": analyst["id"], "role": "analyst", "vendor": None}
        assert api.client.get("/v1/me", headers=bearer(vendor["key"])).json() == \
            {"key_id": vendor["id"], "role": "vendor", "vendor": "vng"}
        assert api.client.get("/v1/me").status_code == 401


def test_dataset_gives_the_demo_scale_and_the_months_with_sessions(store: Store, tmp_path: Path) -> None:
    with running_api(store, tmp_path, cache_ttl_s=0) as api:
        api.put_platform("zalo", "vng")
        api.put_platform("messenger", "meta")
        vng, meta = api.vendor("vng"), api.vendor("meta")
        # zalo: sessions in January and March 2022 (31 March 23:30 in Vietnam is still March); an install in May
        rows = [event(ts="2022-01-05T10:00:00+07:00"), event(ts="2022-03-31T16:30:00Z"),
                event(type="install", ts="2022-05-02T10:00:00+07:00")]
        assert api.post_events(vng, rows).json()["accepted"] == 3
        assert api.post_events(meta, [event(platform="messenger", ts="2021-12-20T10:00:00+07:00")]).json()[
            "accepted"] == 1
        analyst = bearer(api.create_key("analyst")["key"])
        assert api.client.get("/v1/dataset", headers=analyst).json() == \
            {"demo_scale": None, "months": ["2021-12", "2022-01", "2022-03"]}
        assert api.client.get("/v1/dataset", headers=vng).json()["months"] == ["2022-01", "2022-03"]
        assert api.client.get("/v1/dataset", headers=meta).json()["months"] == ["2021-12"]
        store.insert("service_state", [["demo_scale", json.dumps({"users": 2000, "visits": 10000}), datetime.now(UTC)]],
                     ["name", "value", "updated_at"])
        assert api.client.get("/v1/dataset", headers=analyst).json()["demo_scale"] == {"users": 2000, "visits": 10000}


def test_cli_lists_and_revokes_keys_on_the_store_and_through_the_service(tmp_path: Path) -> None:
    env = environment(tmp_path / "data")
    created = vnmeter("keys", "create", "--role", "analyst", env=env, cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    analyst = json.loads(created.stdout.strip().splitlines()[-1])
    listed = vnmeter("keys", "list", env=env, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    lines = [line.split() for line in listed.stdout.strip().splitlines()]
    assert lines[0] == ["id", "role", "vendor", "created_at", "revoked"]
    # the first start made the admin key (data/admin.key), then the analyst key
    assert [(line[1], line[2], line[4]) for line in lines[1:]] == [("admin", "-", "no"), ("analyst", "-", "no")]
    assert lines[2][0] == analyst["id"] and analyst["key"] not in listed.stdout
    revoked = vnmeter("keys", "revoke", analyst["id"], env=env, cwd=tmp_path)
    assert (revoked.returncode, revoked.stdout.strip()) == (0, f"vnmeter: revoked key {analyst['id']}")

    with serving(env, tmp_path, tmp_path / "serve.log"):
        listed = vnmeter("keys", "list", env=env, cwd=tmp_path)
        assert "using its API" in listed.stderr
        assert [line.split()[4] for line in listed.stdout.strip().splitlines()[1:]] == ["no", "yes"]
        again = vnmeter("keys", "revoke", analyst["id"], env=env, cwd=tmp_path)
        assert again.returncode == 1
        assert f"no active key with id '{analyst['id']}'" in again.stderr and "Traceback" not in again.stderr
