"""The client library against the real service, both as child processes: `vnmeter serve` SIGKILLed and restarted
twice while the vendor's ten-line script (client/examples/send.py) sends 100,000 events, and a client process
SIGKILLed mid-stream whose queue a second process resumes. Each time the service's own figures (the stored rows,
the metrics endpoint) show every event exactly once. Run with `-s` to see the figures (docs/INGESTION.md).
"""

from __future__ import annotations

import gzip
import json
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

import httpx
import pytest

from tests.factories import platform_body
from tests.processes import SERVICE_ADMIN_KEY as ADMIN_KEY
from tests.processes import ServiceProcess, free_port

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "client" / "examples" / "send.py"
VENDOR = "relay"
PLATFORMS = ("relay-a", "relay-b")
MONTH = "2024-03"
FIRST_TS = datetime(2024, 2, 29, 17, 0, tzinfo=UTC)  # 2024-03-01 00:00 in Vietnam
SCRIPT_EVENTS = 100_000
KILL_AFTER_BATCHES = (20, 60)  # of the script's 100 batches of 1,000, as the service's access log counts them
CLIENT_EVENTS = 20_000
DEADLINE_S = 240.0

COUNT_SCRIPT = r"""
import json, sys
from pathlib import Path
from queries.store import open_store

store = open_store(None, Path(sys.argv[1]))
rows, distinct = store.rows("SELECT count(), uniqExact(platform, event_id) FROM events")[0]
store.close()
print(json.dumps([rows, distinct]))
"""

RESUMABLE_CLIENT = r"""
import json, sys
from vnmeter_client import Client, RetryPolicy

url, key, queue, mode, events = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
client = Client(url, key, queue=queue, batch_size=500, retry=RetryPolicy(initial_s=0.05, max_s=1.0),
                on_batch=lambda result: print("answered", result.events, flush=True))
if mode == "track":
    with open(events, encoding="utf-8") as lines:
        client.send_many(json.loads(line) for line in lines)
    print("tracked", flush=True)
else:
    print("pending", client.pending(), flush=True)
client.flush()
print("done", json.dumps(client.totals()), flush=True)
client.close()
"""


def write_events(path: Path, count: int, seed: int) -> dict[str, list[int]]:
    """`count` events of MONTH without event_ids (the client gives each one), every one with a user of its own,
    one in ten an install. Returns per platform [sessions, installs]."""
    rng = random.Random(seed)
    expected = {platform: [0, 0] for platform in PLATFORMS}
    span = 30 * 24 * 3600
    with path.open("w", encoding="utf-8") as out:
        for n in range(count):
            platform = PLATFORMS[n % 2]
            kind = "install" if n % 10 == 0 else "session"
            expected[platform][kind == "install"] += 1
            ts = FIRST_TS + timedelta(seconds=rng.randrange(span))
            out.write(json.dumps({"platform": platform, "user": f"user-{seed}-{n}", "type": kind,
                                  "ts": ts.isoformat(), "duration_s": rng.randrange(3600),
                                  "bytes": rng.randrange(10**7)}) + "\n")
    return expected


def served_figures(url: str) -> dict[str, list[int]]:
    """Per platform [sessions, installs, mau] of MONTH, as GET /v1/platforms/{id}/metrics answers them."""
    figures = {}
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=60) as admin:
        for platform in PLATFORMS:
            body = admin.get(f"/v1/platforms/{platform}/metrics", params={"period": MONTH}).json()
            figures[platform] = [body["sessions"], body["installs"], body["mau_avg"]]
    return figures


def stored_rows(data_dir: Path) -> list[int]:
    """(rows, distinct (platform, event_id)) of the events table, read by another process once the service stopped."""
    counted = subprocess.run([sys.executable, "-c", COUNT_SCRIPT, str(data_dir)], capture_output=True, text=True,
                             timeout=120, cwd=ROOT)
    assert counted.returncode == 0, counted.stderr[-3000:]
    found: list[int] = json.loads(counted.stdout)
    return found


def register(service: ServiceProcess) -> str:
    """The platforms of VENDOR and a vendor key."""
    with httpx.Client(base_url=service.url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=60) as admin:
        for platform in PLATFORMS:
            assert admin.put(f"/v1/platforms/{platform}", json=platform_body(VENDOR, name=platform)).status_code == 200
        created = admin.post("/v1/keys", json={"role": "vendor", "vendor": VENDOR})
        assert created.status_code == 201, created.text
        key: str = created.json()["key"]
        return key


def expected_figures(expected: dict[str, list[int]], times: int = 1) -> dict[str, list[int]]:
    """[sessions, installs, mau]: every session has a user of its own, so mau = sessions."""
    return {p: [sessions * times, installs * times, sessions * times] for p, (sessions, installs) in expected.items()}


@pytest.fixture
def service(tmp_path: Path) -> Iterator[ServiceProcess]:
    (tmp_path / "logs").mkdir()
    running = ServiceProcess(tmp_path / "data", free_port(), tmp_path / "logs")
    running.start()
    try:
        yield running
    finally:
        running.stop()


def acknowledged_batches(service: ServiceProcess) -> int:
    log = service.log_dir / "stdout.log"
    return log.read_text(errors="replace").count('"POST /v1/events HTTP/1.1" 200') if log.exists() else 0


def test_the_ten_line_script_sends_100000_events_once_while_the_service_restarts_twice(
        service: ServiceProcess, tmp_path: Path) -> None:
    key = register(service)
    expected = write_events(tmp_path / "events.ndjson", SCRIPT_EVENTS, seed=1)
    started = time.monotonic()
    script = subprocess.Popen([sys.executable, str(EXAMPLE), service.url, key, str(tmp_path / "events.ndjson"),
                               str(tmp_path / "queue.sqlite3")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, cwd=tmp_path)
    stored_at_kill = []
    try:
        for threshold in KILL_AFTER_BATCHES:
            while acknowledged_batches(service) < threshold:
                assert script.poll() is None, f"the script ended before the kill: {script.communicate()}"
                assert time.monotonic() - started < DEADLINE_S
                time.sleep(0.02)
            stored_at_kill.append(acknowledged_batches(service))
            service.kill()
            service.start()
        out, err = script.communicate(timeout=DEADLINE_S)
    finally:
        if script.poll() is None:
            script.kill()
    assert script.returncode == 0, err[-3000:]
    report = json.loads(out.splitlines()[-1])
    seconds = time.monotonic() - started
    served = served_figures(service.url)
    service.stop()
    rows, distinct = stored_rows(service.data_dir)
    print("\nclient-script figures:", json.dumps({
        "events": SCRIPT_EVENTS, "seconds": round(seconds, 1), "sigkills": service.kills,
        "batches_acknowledged_at_each_kill": stored_at_kill, "stored_rows": rows, "distinct_stored": distinct,
        "client": report}))

    assert service.kills == 2
    assert all(0 < n < SCRIPT_EVENTS // 1000 for n in stored_at_kill), "each kill came mid-stream"
    assert report["stats"]["retries"] > 0, "the client saw the service go away"
    assert (rows, distinct) == (SCRIPT_EVENTS, SCRIPT_EVENTS), "0 lost, 0 doubled"
    assert served == expected_figures(expected)
    totals = report["totals"]
    assert totals["accepted"] + totals["duplicates"] == SCRIPT_EVENTS and totals["rejected"] == 0
    assert totals["accepted"] == report["stats"]["accepted"]


def start_client(service: ServiceProcess, key: str, queue: Path, mode: str, events: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", RESUMABLE_CLIENT, service.url, key, str(queue), mode,
                             str(events)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)


def read_lines(stream: IO[str], lines: list[str], seen: threading.Event) -> None:
    for line in stream:
        lines.append(line.strip())
        if "tracked" in lines and any(x.startswith("answered") for x in lines):
            seen.set()


def test_a_client_killed_mid_stream_resumes_its_queue(service: ServiceProcess, tmp_path: Path) -> None:
    key = register(service)
    events, queue = tmp_path / "events.ndjson", tmp_path / "queue.sqlite3"
    expected = write_events(events, CLIENT_EVENTS, seed=2)

    first = start_client(service, key, queue, "track", events)
    lines: list[str] = []
    seen = threading.Event()
    reader = threading.Thread(target=read_lines, args=(first.stdout, lines, seen), daemon=True)
    reader.start()
    assert seen.wait(DEADLINE_S), f"the client did not start sending: {lines} {first.poll()}"
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    reader.join(timeout=10)
    answered_before = sum(int(x.split()[1]) for x in lines if x.startswith("answered"))

    second = start_client(service, key, queue, "resume", events)
    out, err = second.communicate(timeout=DEADLINE_S)
    assert second.returncode == 0, err[-3000:]
    said = out.splitlines()
    pending = int(said[0].split()[1])
    totals = json.loads(said[-1].removeprefix("done "))
    served = served_figures(service.url)
    service.stop()
    rows, distinct = stored_rows(service.data_dir)
    print("\nclient-kill figures:", json.dumps({
        "events": CLIENT_EVENTS, "answered_before_the_kill": answered_before, "pending_at_restart": pending,
        "stored_rows": rows, "distinct_stored": distinct, "queue_totals": totals}))

    assert "done" not in " ".join(lines), "the first client was killed before it finished"
    assert 0 < pending < CLIENT_EVENTS, "the restarted client found the killed one's queue mid-stream"
    assert answered_before + pending <= CLIENT_EVENTS  # each printed answer was committed before it was printed
    assert (rows, distinct) == (CLIENT_EVENTS, CLIENT_EVENTS)
    assert served == expected_figures(expected)
    assert totals["accepted"] + totals["duplicates"] == CLIENT_EVENTS and totals["rejected"] == 0


def test_vnmeter_send_reports_refuses_and_resumes(service: ServiceProcess, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """`vnmeter send FILE.ndjson.gz`: a run with a revoked key stops with the error and keeps the queue; the same
    command with a valid key sends everything once; a third run sends nothing again."""
    from service.cli import main

    key = register(service)
    plain = tmp_path / "events.ndjson"
    expected = write_events(plain, 2_500, seed=3)
    bad_event = {"platform": PLATFORMS[0], "user": "someone", "ts": "2024-03-05T10:00:00+07:00", "duration_s": "60"}
    with plain.open("a", encoding="utf-8") as out:
        out.write('{"not closed\n\n[1, 2]\n' + json.dumps(bad_event) + "\n")
    file = tmp_path / "events.ndjson.gz"
    file.write_bytes(gzip.compress(plain.read_bytes()))
    monkeypatch.setenv("VNMETER_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("VNMETER_URL", service.url)
    with httpx.Client(base_url=service.url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as admin:
        revoked = admin.post("/v1/keys", json={"role": "vendor", "vendor": VENDOR}).json()
        assert admin.delete(f"/v1/keys/{revoked['id']}").status_code == 204

    assert main(["send", str(file), "--key", revoked["key"], "--batch-size", "500"]) == 1
    refused = capsys.readouterr()
    assert "refused a batch with 401: unknown or revoked API key" in refused.err
    assert "events not answered stay in" in refused.err and "run the same command again" in refused.err
    # the whole file was queued before the refusal: its unreadable lines are reported once, by this run
    assert f"{file}:2501: not valid JSON" in refused.err
    assert f"{file}:2503: must be a JSON object, got list" in refused.err

    monkeypatch.setenv("VNMETER_KEY", key)
    summary = (f"vnmeter send: {file}: 2501 events answered: 2500 accepted, 0 duplicates, 1 rejected "
               "(invalid_field: 1); lines not sent (not a JSON object): 2\n")
    assert main(["send", str(file), "--batch-size", "500", "--progress"]) == 0
    sent = capsys.readouterr()
    assert sent.out == summary
    assert "not valid JSON" not in sent.err
    assert "rejected event " in sent.err and "invalid_field: duration_s: must be a JSON integer" in sent.err
    assert "2503/2503" in sent.err  # the progress bar reached the end
    assert served_figures(service.url) == expected_figures(expected)

    assert main(["send", str(file)]) == 0
    assert capsys.readouterr().out == summary
    assert served_figures(service.url) == expected_figures(expected)
    assert [p.suffix for p in (tmp_path / "var" / "send").iterdir()].count(".sqlite3") == 1
