"""API keys: created once, shown once, stored as SHA-256 only, revoked by a newer row version."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from queries.cache import Cached
from queries.store import Store

ROLES = ("admin", "vendor", "analyst")
KEY_PREFIX = "vnm_"


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's id, its role and, for a vendor key, its vendor."""

    key_id: str
    role: str
    vendor: str | None


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKeys:
    def __init__(self, store: Store, ttl_s: float = 5.0, env_admin_key: str | None = None):
        self.store = store
        self._by_hash: Cached[dict[str, Principal]] = Cached(self._load, ttl_s)
        self._env_admin_hash = key_hash(env_admin_key) if env_admin_key else None

    def _load(self) -> dict[str, Principal]:
        rows = self.store.rows(
            "SELECT id, key_hash, toString(role), vendor FROM api_keys FINAL WHERE revoked = 0"
        )
        return {row[1] if isinstance(row[1], str) else row[1].decode(): Principal(row[0], row[2], row[3] or None)
                for row in rows}

    def authenticate(self, key: str) -> Principal | None:
        digest = key_hash(key)
        if self._env_admin_hash and hmac.compare_digest(digest, self._env_admin_hash):
            return Principal("env-admin", "admin", None)
        return self._by_hash.get().get(digest)

    def create(self, role: str, vendor: str | None) -> tuple[str, str]:
        """A new key: returns (id, key). The key is not kept anywhere after this call."""
        key_id = f"key_{secrets.token_hex(8)}"
        key = f"{KEY_PREFIX}{secrets.token_urlsafe(32)}"
        self.store.insert(
            "api_keys",
            [[key_id, key_hash(key), role, vendor or "", datetime.now(UTC), 0, time.time_ns()]],
            ["id", "key_hash", "role", "vendor", "created_at", "revoked", "version"],
        )
        self._by_hash.invalidate()
        return key_id, key

    def revoke(self, key_id: str) -> bool:
        rows = self.store.rows(
            "SELECT key_hash, toString(role), vendor, created_at FROM api_keys FINAL "
            "WHERE id = {id:String} AND revoked = 0", {"id": key_id})
        if not rows:
            return False
        digest, role, vendor, created = rows[0]
        self.store.insert(
            "api_keys", [[key_id, digest, role, vendor, created, 1, time.time_ns()]],
            ["id", "key_hash", "role", "vendor", "created_at", "revoked", "version"],
        )
        self._by_hash.invalidate()
        return True

    def listing(self) -> list[dict[str, Any]]:
        """Every key's id, role, vendor, creation time and whether it is revoked, oldest first; never a key or
        its hash."""
        rows = self.store.rows("SELECT id, toString(role), vendor, created_at, revoked FROM api_keys FINAL "
                               "ORDER BY created_at, id")
        return [{"id": key_id, "role": role, "vendor": vendor or None,
                 "created_at": _utc(created).isoformat(timespec="milliseconds"), "revoked": bool(revoked)}
                for key_id, role, vendor, created, revoked in rows]

    def has_admin(self) -> bool:
        return any(p.role == "admin" for p in self._by_hash.get().values())


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
