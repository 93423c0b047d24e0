"""Examples of the OpenAPI document, one per route: its request body (if any) and a success answer, taken from
the demo dataset (`vnmeter demo`, users 1:2,000) and trimmed; and the body of each error status.

EXAMPLES maps "METHOD /path" to {"request": {media type: body}, "response": (status, {media type: body}),
"parameters": {name: value}}; tests/api/test_openapi.py checks that the request examples are accepted and that the
answers have the keys a real answer has.
"""

from __future__ import annotations

from typing import Any

JSON = "application/json"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
KEY_ID = "key_5e38e4588af5997d"
ZALO_EVENT = {"event_id": "6f1c1a52-3c7e-4b0e-9a51-0d2f3f0c1a01", "platform": "zalo", "user": "device-42",
              "ts": "2022-03-15T09:30:00+07:00", "duration_s": 600, "bytes": 2500000, "os": "android",
              "province": "VN-HN"}
PLATFORM = {"platform_id": "zalo", "name": "Zalo", "vendor": "vng", "origin": "vn", "category": "communication",
            "kind": "app", "province": None}
VERSION = {"period": "2022-Q1", "version": 1, "created_at": "2022-04-08T01:00:00.000+00:00", "trigger": "schedule",
           "created_by": "scheduler"}
PERIOD = {"period": "2022-Q1"}
NDJSON = ('{"event_id": "6f1c1a52-3c7e-4b0e-9a51-0d2f3f0c1a01", "platform": "zalo", "user": "device-42", '
          '"ts": "2022-03-15T09:30:00+07:00", "duration_s": 600}\n'
          '{"event_id": "6f1c1a52-3c7e-4b0e-9a51-0d2f3f0c1a03", "platform": "zalo", "user": "device-43", '
          '"ts": "2022-03-15T10:00:00+07:00", "type": "install"}\n')

EXAMPLES: dict[str, dict[str, Any]] = {
    "GET /health/live": {"response": (200, {JSON: {"status": "live"}})},
    "GET /health/ready": {"response": (200, {JSON: {"status": "ready", "quarantined_inserts": 0}})},
    "POST /v1/admin/seal": {"request": {JSON: {"before": "2021-01"}},
                            "response": (200, {JSON: {"sealed_before": "2021-01", "requested": "2021-01",
                                                      "destroyed_months": ["2020-12"]}})},
    "POST /v1/admin/verify": {"request": {JSON: {"period": "2022-Q1", "repair": False}},
                              "response": (200, {JSON: {"period": "2022-Q1", "differences": [], "repaired": []}})},
    "GET /v1/admin/doctor": {"response": (200, {JSON: {"store": "chdb:/srv/vnmeter/var/clickhouse (database vnmeter)",
                                                       "schema_version": 13, "journal_pending": 0,
                                                       "quarantined": []}})},
    "GET /v1/quality": {"parameters": {"period": "2022-03"}, "response": (200, {JSON: {
        "period": "2022-03", "sealed_before": None, "months": [{"month": "2022-03", "sealed": False}],
        "items": [{"vendor": "vng", "platform": "zalo", "day": "2022-03-15", "received": 2, "accepted": 1,
                   "duplicates": 0, "rejected": 1, "rejected_by_reason": {"invalid_field": 1},
                   "lateness": {"lt_1h": 1, "lt_1d": 0, "lt_7d": 0, "older": 0}}],
        "totals": [{"vendor": "vng", "platform": "zalo", "received": 2, "accepted": 1, "duplicates": 0,
                    "rejected": 1, "rejected_by_reason": {"invalid_field": 1},
                    "lateness": {"lt_1h": 1, "lt_1d": 0, "lt_7d": 0, "older": 0}}]}})},
    "PUT /v1/platforms/{platform_id}/declared/{month}": {
        "parameters": {"platform_id": "zalo", "month": "2022-03"}, "request": {JSON: {"events": 2, "users": 1}},
        "response": (200, {JSON: {"platform": "zalo", "month": "2022-03", "events": 2, "users": 1,
                                  "declared_by": "key_02a738992a197570", "declared_at": "2022-04-05T03:00:00.000Z"}})},
    "GET /v1/reconciliation": {"parameters": {"period": "2022-Q1"}, "response": (200, {JSON: {
        "period": "2022-Q1", "items": [{
            "platform": "zalo", "vendor": "vng", "month": "2022-03", "declared_by": "key_02a738992a197570",
            "declared_at": "2022-04-05T03:00:00.000Z",
            "events": {"declared": 2, "received": 2, "accepted": 1, "duplicates": 0, "rejected": 1, "difference": 0,
                       "share": 0.0, "accepted_difference": -1, "accepted_share": -0.5},
            "users": {"declared": 1, "measured_mau": 1, "difference": 0, "share": 0.0}}]}})},
    "GET /v1/me": {"response": (200, {JSON: {"key_id": KEY_ID, "role": "analyst", "vendor": None}})},
    "GET /v1/dataset": {"response": (200, {JSON: {"demo_scale": {"users": 2000, "visits": 10000},
                                                  "months": ["2021-01", "2021-02", "2021-03", "2022-01", "2022-02",
                                                             "2022-03"]}})},
    "GET /v1/keys": {"response": (200, {JSON: {"items": [
        {"id": KEY_ID, "role": "admin", "vendor": None, "created_at": "2022-04-01T02:00:00.000+00:00",
         "revoked": False},
        {"id": "key_063664ff1aeb0121", "role": "vendor", "vendor": "vng", "created_at": "2022-04-01T02:05:00.000+00:00",
         "revoked": True}]}})},
    "POST /v1/keys": {"request": {JSON: {"role": "vendor", "vendor": "vng"}},
                      "response": (201, {JSON: {"id": "key_0a264d77c1e2b3f4", "key": "vnm_…shown only in this answer…",
                                                "role": "vendor", "vendor": "vng"}})},
    "DELETE /v1/keys/{key_id}": {"parameters": {"key_id": "key_0a264d77c1e2b3f4"}, "response": (204, {})},
    "PUT /v1/platforms/{platform_id}": {"parameters": {"platform_id": "zalo"},
                                        "request": {JSON: {k: v for k, v in PLATFORM.items() if k != "platform_id"}},
                                        "response": (200, {JSON: PLATFORM})},
    "GET /v1/platforms": {"response": (200, {JSON: {"items": [PLATFORM, {
        "platform_id": "hues", "name": "Hue-S", "vendor": "hue-ioc", "origin": "vn", "category": "public_services",
        "kind": "app", "province": "VN-26"}]}})},
    "GET /v1/categories": {"response": (200, {JSON: {"items": [
        {"id": "communication", "label_vi": "Liên lạc", "label_en": "Communication"},
        {"id": "social", "label_vi": "Mạng xã hội", "label_en": "Social networks"}]}})},
    "GET /v1/provinces": {"response": (200, {JSON: {"items": [
        {"code": "VN-26", "name": "Thừa Thiên Huế", "smartphone_users": 602700},
        {"code": "VN-HN", "name": "Hà Nội", "smartphone_users": None}]}})},
    "PUT /v1/reference/provinces/{code}": {"parameters": {"code": "VN-26"},
                                           "request": {JSON: {"name": "Thừa Thiên Huế", "smartphone_users": 602700}},
                                           "response": (200, {JSON: {"code": "VN-26", "name": "Thừa Thiên Huế",
                                                                     "smartphone_users": 602700}})},
    "POST /v1/events": {
        "request": {JSON: [ZALO_EVENT, {**ZALO_EVENT, "event_id": "6f1c1a52-3c7e-4b0e-9a51-0d2f3f0c1a02",
                                        "duration_s": "60"}],
                    "application/x-ndjson": NDJSON},
        "response": (200, {JSON: {"accepted": 1, "duplicates": 0, "rejected": [
            {"index": 1, "event_id": "6f1c1a52-3c7e-4b0e-9a51-0d2f3f0c1a02", "reason": "invalid_field",
             "detail": "duration_s: must be a JSON integer, got a string"}]}})},
    "GET /v1/platforms/{platform_id}/metrics": {
        "parameters": {"platform_id": "zalo", "period": "2022-Q1"},
        "response": (200, {JSON: {
            "platform": "zalo", "period": "2022-Q1",
            "mau_by_month": [{"month": "2022-01", "mau": 37275}, {"month": "2022-02", "mau": 37425},
                             {"month": "2022-03", "mau": 37350}],
            "mau_avg": 37350.0, "mau_peak": 37425, "mau_peak_month": "2022-02", "dau_avg": 1245.0,
            "stickiness": 0.03333333333333333, "minutes_per_user_day": 28.0, "mb_per_user_month": 420.0,
            "hours_per_user_month": 0.4666666666666667, "sessions": 112050, "sessions_per_month": 37350.0,
            "installs": 0, "installs_total": 0, "penetration": None,
            "yoy": {"mau_avg": 0.059574468085106386, "minutes_per_user_day": 0.0, "mb_per_user_month": 0.0,
                    "sessions_per_month": 0.059574468085106386},
            "prev": {"mau_avg": None, "minutes_per_user_day": None, "mb_per_user_month": None,
                     "sessions_per_month": None}}})},
    "GET /v1/platforms/{platform_id}/breakdown": {
        "parameters": {"platform_id": "zalo", "period": "2022-Q1", "by": "os"},
        "response": (200, {JSON: {"platform": "zalo", "period": "2022-Q1", "by": "os", "items": [
            {"key": "android", "mau_avg": 26871.666666666668, "share": 0.7194556001784917, "suppressed": False},
            {"key": "ios", "mau_avg": 10478.333333333334, "share": 0.28054439982150825, "suppressed": False},
            {"key": "other", "mau_avg": None, "share": None, "suppressed": True}]}})},
    "GET /v1/rankings": {
        "parameters": {"period": "2022-Q1", "metric": "mau_avg", "category": "communication", "limit": 2},
        "response": (200, {JSON: {"period": "2022-Q1", "metric": "mau_avg", "items": [
            {"rank": 1, "platform": "zalo", "name": "Zalo", "origin": "vn", "category": "communication", "kind": "app",
             "value": 37350.0, "yoy": 0.059574468085106386},
            {"rank": 2, "platform": "messenger", "name": "Messenger", "origin": "foreign", "category": "communication",
             "kind": "app", "value": 33900.0, "yoy": 0.02416918429003021}]}})},
    "GET /v1/compare/origin": {
        "parameters": {"period": "2022-Q1", "category": "communication"},
        "response": (200, {JSON: {
            "period": "2022-Q1", "category": "communication", "metric": "mb_per_user_month",
            "vn": {"platforms": [{"platform": "zalo", "name": "Zalo", "mau_avg": 37350.0, "value": 420.0},
                                 {"platform": "mocha", "name": "Mocha", "mau_avg": 2300.0, "value": 170.9}],
                   "total": 590.9, "share": 0.5884285998805019},
            "foreign": {"platforms": [{"platform": "messenger", "name": "Messenger", "mau_avg": 33900.0,
                                       "value": 250.0},
                                      {"platform": "viber", "name": "Viber", "mau_avg": 4800.0, "value": 93.3},
                                      {"platform": "telegram", "name": "Telegram", "mau_avg": 2700.0, "value": 70.0}],
                        "total": 413.3, "share": 0.4115714001194981},
            "ratio_vn_to_foreign": 1.429712073554319}})},
    "GET /v1/overview": {
        "parameters": {"period": "2022-Q1", "band_edges": "500,2500"},
        "response": (200, {JSON: {
            "period": "2022-Q1", "platforms_active": 27, "mau_total": 81125.33333333333,
            "bands": [{"min": 0, "max": 500, "platforms": 13}, {"min": 500, "max": 2500, "platforms": 7},
                      {"min": 2500, "max": None, "platforms": 7}],
            "categories": {"communication": 2, "mobility": 1, "delivery": 2, "news": 3, "health": 1, "payments": 5},
            "hours_per_user_month": 0.29936141334122235, "share_of_users": 0.4993086129997169}})},
    "POST /v1/summaries/{period}": {"parameters": PERIOD,
                                    "response": (201, {JSON: {**VERSION, "version": 2, "trigger": "api",
                                                              "created_by": KEY_ID, "changed_figures": 0}})},
    "GET /v1/summaries/{period}": {
        "parameters": PERIOD,
        "response": (200, {JSON: {**VERSION, "figures": {"period": {"label": "2022-Q1"}, "categories": ["…"]},
                                  "changes": {"against_version": None, "items": [], "added": [], "removed": []}},
                           "text/markdown": "# Measuring citizens' activity on digital platforms – Q1 2022\n…",
                           "text/html": "<!DOCTYPE html>\n<html lang=\"vi\">…",
                           "text/csv": "period,category,category_label,kind,rank,platform,name,origin,mau_avg,…\n",
                           XLSX: None})},
    "GET /v1/summaries/{period}/versions": {"parameters": PERIOD,
                                            "response": (200, {JSON: {"period": "2022-Q1", "items": [VERSION]}})},
    "GET /v1/summaries/{period}/versions/{number}/manifest": {"parameters": {**PERIOD, "number": 1}, "response": (
        200, {JSON: {"period": "2022-Q1", "version": 1, "inputs": {
            "period": "2022-Q1",
            "months": [{"platform": "zalo", "month": "2022-03", "accepted": 149400, "duplicate": 12, "rejected":
                        {"invalid_field": 3}, "sealed": False}],
            "sealed_before": None, "schema_migration": 13,
            "software": {"package": "vnmeter", "version": "0.1.0", "commit": "58d71545d39b210366f7c8748435e5c96310b9d1",
                         "modified": False},
            "sql_sha256": {"monthly.sql": "84dcf1a2209ab71915f778eceaa7a7114a532570771c3e2d8507694ce7b012c8"},
            "settings": {"timezone": "Asia/Ho_Chi_Minh", "max_duration_s": 86400, "max_bytes": 1000000000000,
                         "future_tolerance_s": 300, "earliest_ts": "2000-01-01T00:00:00+00:00", "min_cell_users": 10,
                         "protection_user_months": 10, "large_change": 0.3, "data_share_category": "communication",
                         "data_share_top": 5, "band_edges": [1000000, 5000000], "demo": None}},
            "method_changes": [],
            "files": {"v1.html": "9e6a0e17fbd15e6b06c4997dd7124c7068612ee211ef5c24c3f384a0b663bf05"}}})},
    "GET /v1/summaries/{period}/versions/{number}/verification": {
        "parameters": {**PERIOD, "number": 1},
        "response": (200, {JSON: {"period": "2022-Q1", "version": 1, "equal": True, "differences": []}})},
    "GET /v1/summaries/{period}/versions/{number}": {
        "parameters": {"period": "2022-Q1", "number": 1},
        "response": (200, {JSON: {**VERSION, "figures": {"period": {"label": "2022-Q1"}, "categories": ["…"]},
                                  "changes": {"against_version": None, "items": [], "added": [], "removed": []}}})},
}

ERROR_EXAMPLES: dict[tuple[str, int], dict[str, Any]] = {
    ("*", 400): {"error": "body is not valid JSON: unexpected character: line 1 column 1 (char 0)"},
    ("*", 401): {"error": "missing API key: send 'Authorization: Bearer <key>'"},
    ("*", 403): {"error": "this endpoint needs a key with role analyst or admin; yours is vendor"},
    ("*", 404): {"error": "no platform with id 'zallo'"},
    ("*", 408): {"error": "the request body did not arrive within 30 s; send it faster or split it"},
    ("*", 413): {"error": "request body is 6000000 bytes; the limit is 5242880 bytes"},
    ("*", 415): {"error": "Content-Type 'text/plain' is not supported; use application/json or application/x-ndjson"},
    ("*", 422): {"error": "invalid request: period: Field required",
                 "fields": [{"field": "query.period", "problem": "Field required"}]},
    ("*", 429): {"error": "rate limit of 50 requests/s for this key exceeded"},
    ("*", 503): {"error": "the data store is unavailable; retry later"},
    ("GET /health/ready", 503): {"status": "unavailable", "error": "the data store does not answer"},
    ("DELETE /v1/keys/{key_id}", 404): {"error": "no active key with id 'key_0a264d77c1e2b3f4'"},
    ("GET /v1/summaries/{period}", 404): {"error": "no summary of 2022-Q1 yet; an admin key can make one with "
                                                   "POST /v1/summaries/2022-Q1"},
    ("GET /v1/summaries/{period}/versions", 404): {"error": "no summary of 2022-Q1 yet; an admin key can make one "
                                                            "with POST /v1/summaries/2022-Q1"},
    ("GET /v1/summaries/{period}/versions/{number}", 404): {"error": "2022-Q1 has no summary version 3 (GET "
                                                                     "/v1/summaries/2022-Q1/versions lists them)"},
    ("GET /v1/platforms/{platform_id}/metrics", 403): {
        "error": "platform 'messenger' belongs to another vendor; a vendor key reads only its own platforms"},
}
