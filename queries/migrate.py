"""Apply the numbered `.sql` migrations under `queries/migrations/<variant>/` in order, once each.

Variants: `single` (embedded chDB or one server) and `cluster` (Replicated tables with Distributed
tables over them). Each applied migration is recorded with its checksum in `schema_migrations`; a
migration file that changed after it was applied stops the run instead of drifting silently.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources

from queries.store import IDENTIFIER, Store, StoreError

FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
CLUSTER_PLACEHOLDER = "{cluster}"


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load(variant: str = "single") -> tuple[str, list[Migration]]:
    """The variant's ledger DDL and its numbered migrations, in version order."""
    folder = resources.files("queries") / "migrations" / variant
    if not folder.is_dir():
        raise StoreError(f"no migrations for variant {variant!r}")
    ledger = (folder / "schema_migrations.sql").read_text()
    found = []
    for entry in folder.iterdir():
        match = FILE_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), entry.read_text()))
    found.sort(key=lambda m: m.version)
    return ledger, found


def statements(sql: str, cluster: str | None = None) -> list[str]:
    """Split a migration into statements (`;` at the end of a line), dropping comment-only lines."""
    if cluster is not None:
        if not IDENTIFIER.fullmatch(cluster):
            raise StoreError(f"cluster name {cluster!r} must match {IDENTIFIER.pattern}")
        sql = sql.replace(CLUSTER_PLACEHOLDER, cluster)
    kept = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    return [part.strip() for part in re.split(r";\s*$", kept, flags=re.MULTILINE) if part.strip()]


def migrate(store: Store, cluster: str | None = None, through: int | None = None) -> list[Migration]:
    """Bring the store's schema up to date (or up to version `through`); returns the migrations applied by
    this call."""
    variant = "cluster" if cluster else "single"
    ledger, migrations = load(variant)
    for statement in statements(ledger, cluster):
        store.command(statement)
    applied = {
        int(version): checksum
        for version, checksum in store.rows("SELECT version, any(checksum) FROM schema_migrations GROUP BY version")
    }
    done = []
    for migration in migrations:
        if through is not None and migration.version > through:
            break
        if migration.version in applied:
            if applied[migration.version] != migration.checksum:
                raise StoreError(
                    f"migration {migration.version:04d}_{migration.name} changed after it was applied; "
                    "add a new migration instead of editing an applied one"
                )
            continue
        for statement in statements(migration.sql, cluster):
            store.command(statement)
        store.command(
            "INSERT INTO schema_migrations (version, name, checksum, applied_at) "
            "VALUES ({v:UInt32}, {n:String}, {c:String}, now64(3))",
            parameters={"v": migration.version, "n": migration.name, "c": migration.checksum},
        )
        done.append(migration)
    return done
