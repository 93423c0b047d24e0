"""Typed settings from the environment (prefix VNMETER_) or a .env file; invalid values stop start-up."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from queries.disclosure import DEFAULT_MIN_CELL_USERS
from queries.store import IDENTIFIER, Target, resolve_target


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VNMETER_", env_file=".env", extra="ignore")

    data_dir: Path = Field(Path("./var"), description="chDB data, the bootstrap admin key file and summaries")
    clickhouse_url: SecretStr | None = Field(
        None, description="chdb:///abs/path or http(s)://user:password@host:8123/database; default: chDB in data_dir")
    clickhouse_database: str = Field("vnmeter", description="database name when the URL names none")
    cluster: str | None = Field(None, description="ClickHouse cluster name: use the cluster schema variant")
    admin_key: SecretStr | None = Field(None, description="an admin API key (at least 32 characters)")
    timezone: str = Field("Asia/Ho_Chi_Minh", description="days and months are calendar days of this zone")
    cache_ttl_s: float = Field(5.0, ge=0, le=300, description="how long keys, registry and pseudonym keys are cached")
    rate_limit_rps: float = Field(50.0, gt=0, description="requests per second allowed per API key")
    rate_limit_burst: int = Field(200, ge=1, description="requests a key may make at once before the rate applies")
    min_cell_users: int = Field(DEFAULT_MIN_CELL_USERS, ge=1, description="breakdown values with fewer users in "
                                "a month are hidden (docs/DISCLOSURE.md)")
    summary_delay_days: int = Field(7, ge=0, le=90, description="days after a quarter ends before its summary")
    ingest_memory_mb: int = Field(2048, ge=64, description="memory for ingestion requests at once: up to 3 "
                                  "decoding bodies (133 MiB each at most), the rest for rows waiting to be stored "
                                  "(8 MiB each; 206 requests by default, room for the writer's group being "
                                  "inserted and the next one); further requests wait up to 10 s, then 503 "
                                  "(service/admission.py)")
    max_connections: int = Field(1000, ge=16, le=1_000_000, description="open HTTP connections on the API port; "
                                 "further ones are answered 503 and closed at once (service/server.py)")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}; use an IANA name such as Asia/Ho_Chi_Minh") from None
        return value

    @field_validator("admin_key")
    @classmethod
    def _strong_admin_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("VNMETER_ADMIN_KEY must be at least 32 characters")
        return value

    @field_validator("cluster", "clickhouse_database")
    @classmethod
    def _identifier(cls, value: str | None) -> str | None:
        if value is not None and not IDENTIFIER.fullmatch(value):
            raise ValueError(f"{value!r} must match {IDENTIFIER.pattern}")
        return value

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def target(self) -> Target:
        url = self.clickhouse_url.get_secret_value() if self.clickhouse_url else None
        return resolve_target(url, self.data_dir, self.clickhouse_database)


class SenderSettings(BaseSettings):
    """What `vnmeter send` needs from the environment (or .env): where the service is and a vendor key."""

    model_config = SettingsConfigDict(env_prefix="VNMETER_", env_file=".env", extra="ignore")

    url: str | None = Field(None, description="the service's address, such as https://vnmeter.example")
    key: SecretStr | None = Field(None, description="a vendor key")
