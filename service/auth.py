"""Bearer-key authentication, role checks and per-key rate limits as FastAPI dependencies."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Depends, HTTPException, Request

from queries.apikeys import Principal
from queries.registry import Platform, Registry
from queries.store import StoreUnavailable
from service.context import Services
from service.ratelimit import retry_after


def services(request: Request) -> Services:
    ctx: Services | None = request.app.state.services
    if ctx is None:
        raise StoreUnavailable("the service has not reached ClickHouse yet")
    return ctx


def principal(request: Request) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise HTTPException(401, "missing API key: send 'Authorization: Bearer <key>'",
                            headers={"WWW-Authenticate": "Bearer"})
    ctx = services(request)
    found = ctx.keys.authenticate(key.strip())
    if found is None:
        raise HTTPException(401, "unknown or revoked API key", headers={"WWW-Authenticate": "Bearer"})
    wait = ctx.limiter.acquire(found.key_id)
    if wait > 0:
        raise HTTPException(429, f"rate limit of {ctx.settings.rate_limit_rps:g} requests/s for this key exceeded",
                            headers={"Retry-After": retry_after(wait)})
    return found


def require(*roles: str) -> Callable[[Principal], Principal]:
    def check(who: Principal = Depends(principal)) -> Principal:
        if who.role not in roles:
            raise HTTPException(403, f"this endpoint needs a key with role {' or '.join(roles)}; yours is {who.role}")
        return who

    return check


any_key = require("admin", "vendor", "analyst")
admin_only = require("admin")
vendor_only = require("vendor")


def own_platform(platform_id: str, who: Principal, registry: Registry) -> Platform:
    """The registered platform; 404 when there is none, 403 when a vendor key names another vendor's platform."""
    platform = registry.platform(platform_id)
    if platform is None:
        raise HTTPException(404, f"no platform with id {platform_id[:64]!r}")
    if who.role == "vendor" and platform.vendor != who.vendor:
        raise HTTPException(403, f"platform {platform_id[:64]!r} belongs to another vendor; a vendor key may use "
                                 "only its own platforms")
    return platform
