"""Queue the events of an NDJSON file (plain or gzip) through a `Client`, resumably: lines are queued a chunk at a
time, each chunk committed together with how far the file has been read, so a run stopped anywhere (a crash, a
kill, Ctrl-C) continues at the first line it had not queued, and never queues a line twice."""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any, cast

from vnmeter_client.client import Client

CHUNK_LINES = 1000
GZIP_MAGIC = b"\x1f\x8b"


@dataclass
class FileProgress:
    """How far a file has been queued: lines read (blank ones included), events queued, lines that were not a JSON
    object (reported, not sent)."""

    lines: int = 0
    events: int = 0
    bad_lines: int = 0


def _open(path: Path) -> IO[bytes]:
    with path.open("rb") as probe:
        compressed = probe.read(2) == GZIP_MAGIC
    return cast(IO[bytes], gzip.open(path, "rb")) if compressed else path.open("rb")


def file_digest(path: Path) -> str:
    """SHA-256 of the file as stored: the identity under which its progress is kept."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def count_events(path: Path) -> int:
    """The file's non-blank lines (what a full run reads as events or reports as bad lines)."""
    with _open(path) as handle:
        return sum(1 for line in handle if line.strip())


def _no_constants(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def _parse(line: bytes) -> tuple[dict[str, Any] | None, str | None]:
    try:
        value = json.loads(line, parse_constant=_no_constants)
    except ValueError as exc:
        return None, f"not valid JSON: {exc}"
    if not isinstance(value, dict):
        return None, f"must be a JSON object, got {type(value).__name__}"
    return value, None


def _chunks(handle: IO[bytes], skip: int) -> Iterator[list[tuple[int, bytes]]]:
    chunk: list[tuple[int, bytes]] = []
    for number, line in enumerate(handle, start=1):
        if number <= skip:
            continue
        chunk.append((number, line))
        if len(chunk) == CHUNK_LINES:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def progress_of(client: Client, digest: str) -> FileProgress:
    """What earlier runs on this queue file queued of the file with this digest."""
    saved = client.checkpoint(f"file:{digest}")
    return FileProgress(**json.loads(saved)) if saved else FileProgress()


def queue_file(client: Client, path: Path, digest: str | None = None,
               on_bad_line: Callable[[int, str], None] | None = None) -> FileProgress:
    """Queue every event of the file that no earlier run on this queue file queued; returns the progress over all
    runs. A line that is not a JSON object is passed to `on_bad_line(line_number, problem)` and skipped; the
    service checks the events themselves (rejections reach the client's `on_rejected`)."""
    digest = digest or file_digest(path)
    progress = progress_of(client, digest)
    with _open(path) as handle:
        for chunk in _chunks(handle, progress.lines):
            events = []
            for number, line in chunk:
                if not line.strip():
                    continue
                event, problem = _parse(line.rstrip(b"\r\n"))
                if event is None:
                    progress.bad_lines += 1
                    if on_bad_line is not None:
                        on_bad_line(number, problem or "")
                else:
                    events.append(event)
            progress.lines, progress.events = chunk[-1][0], progress.events + len(events)
            client.send_many(events, checkpoint=(f"file:{digest}", json.dumps(asdict(progress))))
    return progress
