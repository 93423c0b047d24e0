"""Shared fixtures: one chDB directory for the whole run (chDB hosts one per process) and a fresh
database in it for every test that needs a store."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import clickhouse_connect
import pytest
from hypothesis import settings

from queries.migrate import migrate
from queries.store import Store, Target


@pytest.fixture(scope="session")
def chdb_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("chdb")


@pytest.fixture(scope="session")
def chdb_client(chdb_dir: Path) -> Iterator[object]:
    """A plain clickhouse-connect client on the run's chDB directory (no database of its own)."""
    client = clickhouse_connect.get_client(dsn=f"chdb://{chdb_dir}")
    yield client
    client.close()


@pytest.fixture
def store(chdb_dir: Path) -> Iterator[Store]:
    """A migrated store on a database no other test uses."""
    database = f"t_{uuid.uuid4().hex[:12]}"
    opened = Store(Target("chdb", f"chdb://{chdb_dir}", database, chdb_dir))
    migrate(opened)
    yield opened
    opened.command(f"DROP DATABASE IF EXISTS {database}")
    opened.close()


# Property-based tests explore new inputs on every local run; in CI they replay a fixed sequence, so that a
# landing cannot fail on an input no one has seen (new finds show up locally first).
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
