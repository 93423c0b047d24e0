"""The objects a running service shares between requests, built once at start-up."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

from ingest.pipeline import Ingestor
from ingest.pseudonymise import KeyStore
from ingest.seen import SeenFilter
from ingest.write import Writer, months_of
from queries import consistency
from queries.apikeys import ApiKeys
from queries.migrate import migrate
from queries.registry import Registry
from queries.store import Store, private_directory
from service.admission import IngestAdmission
from service.ratelimit import RateLimiter
from service.settings import Settings

log = logging.getLogger("vnmeter")
ADMIN_KEY_FILE = "admin.key"


@dataclass
class Services:
    settings: Settings
    store: Store
    keys: ApiKeys
    registry: Registry
    pseudonym_keys: KeyStore
    writer: Writer
    ingestor: Ingestor
    limiter: RateLimiter
    admission: IngestAdmission

    def close(self) -> None:
        self.writer.close()
        self.store.close()


def build(settings: Settings, store: Store) -> Services:
    """Migrate the schema, seed reference data, make sure an admin key exists, start the writer."""
    began = time.monotonic()
    migrate(store, settings.cluster)
    ttl = settings.cache_ttl_s
    env_admin = settings.admin_key.get_secret_value() if settings.admin_key else None
    keys = ApiKeys(store, ttl, env_admin)
    registry = Registry(store, ttl)
    registry.seed()
    pseudonym_keys = KeyStore(store, ttl)
    writer = Writer(store)
    recover(store, writer, settings.cluster)
    filled = time.monotonic()
    writer.use_filter(SeenFilter.load(store))  # after the replay: it reads what is stored
    log.info("start-up: %.1f s in all, the stored-id filter %.1f s", time.monotonic() - began,
             time.monotonic() - filled)
    services = Services(settings, store, keys, registry, pseudonym_keys, writer,
                        Ingestor(registry, pseudonym_keys, writer, settings.zone),
                        RateLimiter(settings.rate_limit_rps, settings.rate_limit_burst),
                        IngestAdmission.for_memory(settings.ingest_memory_mb * 1024 * 1024))
    if env_admin is None and not keys.has_admin():
        bootstrap_admin_key(keys, settings.data_dir)
    return services


def recover(store: Store, writer: Writer, cluster: str | None) -> list[str]:
    """Finish the inserts an earlier process left unfinished, then make the rollups of their months agree with
    the raw events again (a crash can leave a view's insert undone); returns what was rebuilt."""
    began = time.monotonic()
    recovered = writer.recover()
    if not recovered:
        return []
    log.warning("finished %d ingestion inserts left incomplete by an earlier stop in %.1f s", len(recovered),
                time.monotonic() - began)
    if cluster is not None:  # each shard's rollups: `vnmeter verify` reports, a shard's own schema repairs
        return []
    checked = time.monotonic()
    rebuilt = consistency.repair(store, sorted(months_of(recovered)))
    for done in rebuilt:
        log.warning("after the replay: %s", done)
    log.warning("rollups checked against the raw events of the replayed months in %.1f s", time.monotonic() - checked)
    return rebuilt


class AdminKeyFileExists(Exception):
    """The first admin key's file is already there (or something is planted in its place): never overwritten."""


def bootstrap_admin_key(keys: ApiKeys, data_dir: Path) -> Path:
    """Create the first admin key and write it to a new file only its owner can read.

    The file is created with O_EXCL | O_NOFOLLOW, so an existing file or a symlink planted in its place is
    neither overwritten nor followed: start-up stops with a message instead, before any key is created."""
    path = private_directory(data_dir).resolve() / ADMIN_KEY_FILE  # the directory resolved, never the file
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        raise AdminKeyFileExists(
            f"{path} already exists, but the database has no admin key: it belongs to another database or was "
            "put there by someone else. Move it away and start again to create a new admin key, or set "
            "VNMETER_ADMIN_KEY") from None
    with os.fdopen(fd, "w") as handle:
        try:
            _, key = keys.create("admin", None)
            handle.write(key + "\n")
        except BaseException:
            path.unlink(missing_ok=True)  # no half-made key file: the next start tries again
            raise
    print(f"vnmeter: created the first admin key; it is in {path} (readable only by you)", flush=True)
    return path
