"""`vnmeter send FILE`: the events of an NDJSON file (gzip or not) sent through the client library (vnmeter-client,
client/), with a progress bar (tqdm) and, at the end, what the service answered.

The queue file is kept per file content (its SHA-256) under the data directory, so running the same command again
after a crash, a kill or Ctrl-C resumes where the first run stopped, and running it once more after it finished
sends nothing twice.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import Any

from tqdm import tqdm

SHOWN = 20
"""Rejected events and unreadable lines printed one by one; the rest are counted."""


class SendFailed(Exception):
    """Sending stopped; the message says why and that the same command resumes."""


def _client_library() -> Any:
    try:
        import vnmeter_client
        from vnmeter_client import files
    except ImportError:
        raise SendFailed("`vnmeter send` needs the client library: pip install ./client (package vnmeter-client)"
                         ) from None
    return vnmeter_client, files


def _say(line: str) -> None:
    tqdm.write(f"vnmeter send: {line}", file=sys.stderr)


def send_file(url: str, key: str, path: Path, queue: Path | None, queues_dir: Path, batch_size: int,
              force_progress: bool) -> int:
    """Send the file; print the answer's counts; raise SendFailed when sending stopped (the rest stays queued)."""
    library, files = _client_library()
    digest = files.file_digest(path)
    if queue is None:
        queues_dir.mkdir(parents=True, exist_ok=True)
        queue = queues_dir / f"{digest[:32]}.sqlite3"
    shown: Counter[str] = Counter()
    bar = tqdm(total=files.count_events(path), unit="event", desc=path.name, file=sys.stderr,
               disable=False if force_progress else None)

    def rejected(rejections: list[Any]) -> None:
        for rejection in rejections:
            if shown["rejected"] < SHOWN:
                _say(f"rejected event {rejection.event.get('event_id')}: {rejection.reason}: {rejection.detail}")
            shown["rejected"] += 1

    def bad_line(number: int, problem: str) -> None:
        bar.update(1)
        if shown["lines"] < SHOWN:
            _say(f"{path}:{number}: {problem}; not sent")
        shown["lines"] += 1

    try:
        client = library.Client(url, key, queue=queue, batch_size=batch_size, on_rejected=rejected,
                                on_batch=lambda result: bar.update(result.events))
    except (library.QueueError, ValueError) as exc:
        bar.close()
        raise SendFailed(str(exc)) from None
    try:
        before = files.progress_of(client, digest)
        bar.update(before.bad_lines + sum(client.totals().get(n, 0) for n in ("accepted", "duplicates", "rejected")))
        progress = files.queue_file(client, path, digest, on_bad_line=bad_line)
        client.flush()
        totals = client.totals()
    except library.SendError as exc:
        raise SendFailed(f"{exc}; the {client.pending()} events not answered stay in {queue}: run the same command "
                         "again to send them") from None
    except KeyboardInterrupt:
        raise SendFailed(f"interrupted; the {client.pending()} events not answered stay in {queue}: run the same "
                         "command again to send them") from None
    finally:
        bar.close()
        client.close(timeout=0)
    reasons = ", ".join(f"{name.removeprefix('rejected:')}: {count}" for name, count in totals.items()
                        if name.startswith("rejected:"))
    print(f"vnmeter send: {path}: {progress.events} events answered: {totals.get('accepted', 0)} accepted, "
          f"{totals.get('duplicates', 0)} duplicates, {totals.get('rejected', 0)} rejected"
          + (f" ({reasons})" if reasons else "")
          + (f"; lines not sent (not a JSON object): {progress.bad_lines}" if progress.bad_lines else ""))
    return 0
