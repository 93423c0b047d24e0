"""Platform registry, categories and provinces: what the metrics group and filter by."""

from __future__ import annotations

import csv
import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from queries.cache import Cached
from queries.store import Store

PLATFORM_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
VENDOR_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
PROVINCE_CODE = re.compile(r"^VN-[A-Z0-9]{2,3}$")

CATEGORIES: dict[str, tuple[str, str]] = {
    # id: (Vietnamese label as in the ministry's reports, English label)
    "communication": ("Liên lạc", "Communication"),
    "social": ("Mạng xã hội", "Social networks"),
    "mobility": ("Đi lại", "Mobility"),
    "delivery": ("Giao hàng", "Delivery"),
    "shopping": ("Mua sắm", "Shopping"),
    "news": ("Tin tức", "News"),
    "entertainment": ("Giải trí", "Entertainment"),
    "health": ("Chăm sóc sức khỏe", "Health care"),
    "travel": ("Du lịch", "Travel"),
    "education": ("Học tập", "Education"),
    "payments": ("Thanh toán số", "Digital payments"),
    "public_services": ("Dịch vụ công", "Public services"),
    "games": ("Trò chơi", "Games"),
    "other": ("Khác", "Other"),
}
ORIGINS = ("vn", "foreign")
KINDS = ("app", "web")


@dataclass(frozen=True)
class Platform:
    platform_id: str
    name: str
    vendor: str
    origin: str
    category: str
    kind: str
    province: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Province:
    code: str
    name: str
    smartphone_users: int | None


def shipped_provinces() -> list[Province]:
    """The 63 provinces of the 2022 reports (ISO 3166-2:VN), shipped with the package."""
    text = (resources.files("queries") / "reference" / "provinces.csv").read_text(encoding="utf-8")
    return [
        Province(row["code"], row["name"], int(row["smartphone_users"]) if row["smartphone_users"] else None)
        for row in csv.DictReader(text.splitlines())
    ]


class Registry:
    """Reads and writes platforms and provinces, with a short cache for the ingestion hot path."""

    def __init__(self, store: Store, ttl_s: float = 5.0):
        self.store = store
        self._platforms: Cached[dict[str, Platform]] = Cached(self._load_platforms, ttl_s)
        self._provinces: Cached[dict[str, Province]] = Cached(self._load_provinces, ttl_s)

    def seed(self) -> None:
        """Load the shipped province list once, into an empty table."""
        if self.store.command("SELECT count() FROM provinces") == 0:
            for province in shipped_provinces():
                self.put_province(province)

    # -- platforms ------------------------------------------------------------------------------
    def _load_platforms(self) -> dict[str, Platform]:
        rows = self.store.rows(
            "SELECT platform_id, name, vendor, toString(origin), category, toString(kind), province "
            "FROM platforms FINAL ORDER BY platform_id"
        )
        return {row[0]: Platform(*row) for row in rows}

    def platforms(self) -> dict[str, Platform]:
        return self._platforms.get()

    def platform(self, platform_id: str) -> Platform | None:
        return self._platforms.get().get(platform_id)

    def put_platform(self, platform: Platform) -> None:
        self.store.insert(
            "platforms",
            [[platform.platform_id, platform.name, platform.vendor, platform.origin, platform.category,
              platform.kind, platform.province, datetime.now(UTC)]],
            ["platform_id", "name", "vendor", "origin", "category", "kind", "province", "updated_at"],
        )
        self._platforms.invalidate()

    # -- provinces ------------------------------------------------------------------------------
    def _load_provinces(self) -> dict[str, Province]:
        rows = self.store.rows("SELECT code, name, smartphone_users FROM provinces FINAL ORDER BY code")
        return {row[0]: Province(*row) for row in rows}

    def provinces(self) -> dict[str, Province]:
        return self._provinces.get()

    def put_province(self, province: Province) -> None:
        self.store.insert(
            "provinces",
            [[province.code, province.name, province.smartphone_users, datetime.now(UTC)]],
            ["code", "name", "smartphone_users", "updated_at"],
        )
        self._provinces.invalidate()
