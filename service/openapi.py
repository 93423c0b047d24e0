"""The OpenAPI document, completed from the routes in one place: the Bearer security scheme, the bodies of
POST /v1/events (JSON array and NDJSON) and its answer, every error status each route can answer with and
the real error body (`{"error": ...}`), and an example for each route (service/openapi_examples.py).

Which errors a route can give is read from the route itself: 401 and 429 where it takes a key, 403 where
its role check excludes a role, 503 where it needs the store, 422 where it takes parameters or a body, 408
where it reads a body, 413 everywhere (the body limit applies to every request); ROUTE_ERRORS adds what a
route's own code answers (404 for an unknown platform, 415 for an unsupported Content-Type, ...).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from ingest.limits import MAX_BODY_BYTES, MAX_BYTES, MAX_DURATION_S, MAX_EVENTS_PER_REQUEST, MAX_USER_CHARS
from ingest.reasons import Reason
from queries.apikeys import ROLES
from service import auth
from service.openapi_examples import ERROR_EXAMPLES, EXAMPLES

BEARER = "bearer"
ERROR_REF = {"$ref": "#/components/schemas/Error"}

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {"type": "string", "description": "what is wrong, naming the field or header"},
        "fields": {"type": "array", "description": "422 for malformed parameters or body: one item a problem",
                   "items": {"type": "object", "required": ["field", "problem"],
                             "properties": {"field": {"type": "string"}, "problem": {"type": "string"}}}},
    },
}

RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before retrying", "schema": {"type": "integer"}}}
CLOSE = {"Connection": {"description": "close: the connection is closed after the answer",
                        "schema": {"type": "string"}}}
CHALLENGE = {"WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}}

# status -> (generic description, response headers)
STATUSES: dict[int, tuple[str, dict[str, Any]]] = {
    400: ("The body cannot be read: not valid JSON or gzip, not an array, or no events.", {}),
    401: ("No API key, or an unknown or revoked one: send `Authorization: Bearer <key>`.", CHALLENGE),
    403: ("The key's role may not use this endpoint.", {}),
    404: ("Not found.", {}),
    408: ("The request body did not arrive within 30 s of the request's start.", CLOSE),
    413: (f"The request body is over {MAX_BODY_BYTES} bytes (refused from Content-Length when it says so).", CLOSE),
    415: ("Unsupported Content-Type or Content-Encoding.", {}),
    422: ("A parameter or the body is invalid; `error` names the field and the problem.", {}),
    429: ("Too many requests for this key; retry after `Retry-After` seconds.", RETRY_AFTER),
    503: ("The data store cannot be reached right now; retry after `Retry-After` seconds.", RETRY_AFTER),
}

PLATFORM_ERRORS = {403: "A vendor key asked about another vendor's platform.", 404: "No platform with this id."}
ROUTE_ERRORS: dict[str, dict[int, str]] = {
    "GET /health/ready": {503: "The data store does not answer."},
    "POST /v1/events": {
        400: STATUSES[400][0],
        413: f"The body is over {MAX_BODY_BYTES} bytes, inflates past the limit for decompressed data, or holds "
             f"more than {MAX_EVENTS_PER_REQUEST} events.",
        415: "Content-Type is not application/json or application/x-ndjson, or Content-Encoding is not gzip.",
        422: "The data store refused the request's rows as data (a gap in validation): nothing of it was stored.",
    },
    "GET /v1/platforms/{platform_id}/metrics": PLATFORM_ERRORS,
    "GET /v1/quality": PLATFORM_ERRORS,
    "PUT /v1/platforms/{platform_id}/declared/{month}": PLATFORM_ERRORS,
    "GET /v1/platforms/{platform_id}/breakdown": PLATFORM_ERRORS,
    "DELETE /v1/keys/{key_id}": {404: "No active key with this id."},
    "GET /v1/summaries/{period}": {404: "No summary of this period yet."},
    "GET /v1/summaries/{period}/versions": {404: "No summary of this period yet."},
    "GET /v1/summaries/{period}/versions/{number}": {404: "The period has no such version."},
    "GET /v1/summaries/{period}/versions/{number}/manifest": {404: "The period has no such version."},
    "GET /v1/summaries/{period}/versions/{number}/verification": {404: "The period has no such version."},
}

EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["event_id", "platform", "user", "ts"],
    "additionalProperties": False,
    "properties": {
        "event_id": {"type": "string", "format": "uuid",
                     "description": "the vendor's id of this event; sending it again is a duplicate, not a count"},
        "platform": {"type": "string", "description": "a registered platform of the key's vendor"},
        "user": {"type": "string", "minLength": 1, "maxLength": MAX_USER_CHARS,
                 "description": "the vendor's id of the user or device: pseudonymised on arrival, never stored"},
        "type": {"type": ["string", "null"], "enum": ["session", "install", None], "default": "session"},
        "ts": {"type": "string", "format": "date-time",
               "description": "RFC 3339 with an explicit offset, e.g. 2022-03-31T17:30:00Z"},
        "duration_s": {"type": ["integer", "null"], "minimum": 0, "maximum": MAX_DURATION_S, "default": 0},
        "bytes": {"type": ["integer", "null"], "minimum": 0, "maximum": MAX_BYTES, "default": 0},
        "country": {"type": ["string", "null"], "pattern": "^[A-Z]{2}$", "default": "VN",
                    "description": "ISO 3166-1 alpha-2"},
        "province": {"type": ["string", "null"], "description": "ISO 3166-2:VN code from GET /v1/provinces"},
        "os": {"type": ["string", "null"], "enum": ["android", "ios", "web", "other", None]},
    },
}

INGEST_RESULT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["accepted", "duplicates", "rejected"],
    "properties": {
        "accepted": {"type": "integer", "description": "events stored by this request"},
        "duplicates": {"type": "integer", "description": "events whose event_id was already stored"},
        "rejected": {"type": "array", "items": {
            "type": "object", "required": ["index", "reason", "detail"],
            "properties": {"index": {"type": "integer", "description": "the row's position, from 0"},
                           "event_id": {"type": ["string", "null"]},
                           "reason": {"type": "string", "enum": [reason.value for reason in Reason]},
                           "detail": {"type": "string", "description": "the field and the problem"}}}},
    },
}

EVENTS_BODY: dict[str, Any] = {
    "required": True,
    "description": f"Up to {MAX_EVENTS_PER_REQUEST} events, as a JSON array or as NDJSON (one event object a "
                   f"line), optionally gzip-compressed (`Content-Encoding: gzip`); at most {MAX_BODY_BYTES} bytes "
                   "as sent. Each row is accepted, a duplicate or rejected on its own.",
    "content": {
        "application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/Event"},
                                        "maxItems": MAX_EVENTS_PER_REQUEST}},
        "application/x-ndjson": {"schema": {"type": "string", "description": "one Event object a line"}},
    },
}


def install(app: FastAPI, routers: Sequence[APIRouter]) -> None:
    """Make `app.openapi()` answer the completed document (built once, on first use) of `routers`' routes, which
    `app` includes without a prefix."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(title=app.title, version=app.version, description=app.description,
                               routes=app.routes)
            routes = [r for router in routers for r in router.routes if isinstance(r, APIRoute) and r.include_in_schema]
            app.openapi_schema = complete(spec, routes)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def complete(spec: dict[str, Any], routes: list[APIRoute]) -> dict[str, Any]:
    """Add the security scheme, the error answers, the events bodies and the examples to `spec`."""
    components = spec.setdefault("components", {})
    components["securitySchemes"] = {BEARER: {
        "type": "http", "scheme": "bearer",
        "description": "An API key (`vnm_…`): admin, analyst or vendor. Created with POST /v1/keys or "
                       "`vnmeter keys create`; the first admin key is in the data directory's admin.key."}}
    schemas = components.setdefault("schemas", {})
    schemas["Error"] = ERROR_SCHEMA
    schemas["Event"] = EVENT_SCHEMA
    schemas["IngestResult"] = INGEST_RESULT_SCHEMA
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    for route in routes:
        for method in sorted(route.methods or ()):
            label = f"{method} {route.path_format}"
            operation = spec["paths"][route.path_format][method.lower()]
            if label == "POST /v1/events":
                _events(operation)
            calls = set(_calls(route.dependant))
            if auth.principal in calls:
                operation["security"] = [{BEARER: []}]
            operation["responses"].pop("422", None)
            for status, description in sorted(error_statuses(route, label, calls).items()):
                operation["responses"][str(status)] = _error_response(status, description, label)
            _examples(operation, label)
    return spec


def error_statuses(route: APIRoute, label: str, calls: set[Callable[..., Any]] | None = None) -> dict[int, str]:
    """Every error status `route` can answer with, and what it means there."""
    calls = set(_calls(route.dependant)) if calls is None else calls
    statuses = {413: STATUSES[413][0]}
    reads_body = route.body_field is not None or label == "POST /v1/events"
    if reads_body:
        statuses[408] = STATUSES[408][0]
    if auth.principal in calls:
        statuses.update({401: STATUSES[401][0], 429: STATUSES[429][0], 503: STATUSES[503][0]})
        allowed = _roles(calls)
        if set(allowed) != set(ROLES):
            statuses[403] = f"{STATUSES[403][0]} Allowed: {', '.join(allowed)}."
    if auth.services in calls:
        statuses[503] = STATUSES[503][0]
    if route.dependant.query_params or route.dependant.path_params or route.body_field is not None:
        statuses[422] = STATUSES[422][0]
    statuses.update(ROUTE_ERRORS.get(label, {}))
    return statuses


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            yield dependency.call
        yield from _calls(dependency)


def _roles(calls: set[Callable[..., Any]]) -> tuple[str, ...]:
    """The roles the route's `auth.require(...)` check lets through (all roles when it has none)."""
    for call in calls:
        if call.__qualname__ == f"{auth.require.__name__}.<locals>.check":
            roles: tuple[str, ...] = inspect.getclosurevars(call).nonlocals["roles"]
            return roles
    return ROLES


def _error_response(status: int, description: str, label: str) -> dict[str, Any]:
    example = ERROR_EXAMPLES.get((label, status)) or ERROR_EXAMPLES[("*", status)]
    response: dict[str, Any] = {"description": description,
                                "content": {"application/json": {"schema": ERROR_REF, "example": example}}}
    if STATUSES[status][1]:
        response["headers"] = STATUSES[status][1]
    return response


def _events(operation: dict[str, Any]) -> None:
    operation["requestBody"] = EVENTS_BODY
    operation.setdefault("parameters", []).append({
        "name": "Content-Encoding", "in": "header", "required": False,
        "description": "gzip when the body is gzip-compressed", "schema": {"type": "string", "enum": ["gzip"]}})
    operation["responses"]["200"] = {
        "description": "What became of each row: accepted, duplicate, or rejected with the reason and field.",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/IngestResult"}}}}


def _examples(operation: dict[str, Any], label: str) -> None:
    """Put the route's request and answer examples beside their schemas."""
    example = EXAMPLES[label]
    for media_type, body in example.get("request", {}).items():
        operation["requestBody"]["content"].setdefault(media_type, {})["example"] = body
    status, contents = example["response"]
    response = operation["responses"].setdefault(str(status), {"description": "Success"})
    for media_type, body in contents.items():
        content = response.setdefault("content", {}).setdefault(media_type, {})
        if body is None:  # a binary format: no example, its schema says so
            content["schema"] = {"type": "string", "format": "binary"}
        else:
            content["example"] = body
    for name, value in example.get("parameters", {}).items():
        for parameter in operation.get("parameters", []):
            if parameter["name"] == name:
                parameter["example"] = value
