-- PROTOTYPE, not a migration: ClickHouse parses, checks and pseudonymises NDJSON lines (the issue's
-- "let ClickHouse do the parsing and checking on the fast path"). Measured by bench/ch_parse_prototype.py
-- and not adopted: see docs/PERFORMANCE.md. Needs the schema of queries/migrations/single (0001-0006).

-- Reference data the view reads: ISO 3166-1 alpha-2 codes, seeded at start-up from ingest/countries.py.
CREATE TABLE IF NOT EXISTS countries
(
    code String
)
ENGINE = ReplacingMergeTree
-- ORDER BY code: membership tests.
ORDER BY code;

CREATE TABLE IF NOT EXISTS ingest_staged
(
    grp             UInt64,
    req             UInt32,
    line_no         UInt32,
    ok              UInt8,
    platform        LowCardinality(String),
    event_id        UUID,
    user_pseudo_hex FixedString(32),
    type            Enum8('session' = 1, 'install' = 2),
    ts_ms           Int64,
    day             Date,
    duration_s      UInt32,
    bytes           UInt64,
    country         LowCardinality(String),
    province        LowCardinality(String),
    os              LowCardinality(String),
    staged_at       DateTime DEFAULT now()
)
ENGINE = MergeTree
-- ORDER BY (grp, req, line_no): every step reads one group; results are per request and line.
ORDER BY (grp, req, line_no)
TTL staged_at + INTERVAL 7 DAY;

CREATE TABLE IF NOT EXISTS ingest_lines
(
    grp     UInt64,
    req     UInt32,
    line_no UInt32,
    vendor  String,
    now_ms  Int64,
    line    String
)
ENGINE = Null;

CREATE MATERIALIZED VIEW IF NOT EXISTS ingest_lines_mv TO ingest_staged AS
WITH
    (SELECT argMax(value, updated_at) FROM service_state WHERE name = 'timezone') AS zone,
    reinterpretAsUInt256(CAST(repeat('6', 32) AS FixedString(32))) AS ipad,
    reinterpretAsUInt256(CAST(repeat('\\', 32) AS FixedString(32))) AS opad
SELECT
    grp,
    req,
    line_no,
    ok,
    if(ok, platform_text, '')                                                   AS platform,
    if(ok, toUUID(event_id_text), toUUID('00000000-0000-0000-0000-000000000000')) AS event_id,
    if(ok, lower(hex(substring(SHA256(concat(
        reinterpretAsFixedString(bitXor(reinterpretAsUInt256(pkey), opad)), repeat('\\', 32),
        SHA256(concat(reinterpretAsFixedString(bitXor(reinterpretAsUInt256(pkey), ipad)), repeat('6', 32),
                      user_text)))), 1, 16))), '')                              AS user_pseudo_hex,
    if(ok, type_text, 'session')                                                AS type,
    if(ok, ts_ms, 0)                                                            AS ts_ms,
    if(ok, day, toDate(0))                                                      AS day,
    if(ok, toUInt32(duration_s), 0)                                             AS duration_s,
    if(ok, toUInt64(bytes), 0)                                                  AS bytes,
    if(ok, country, '')                                                         AS country,
    if(ok, province, '')                                                        AS province,
    if(ok, os, '')                                                              AS os
FROM
(
    SELECT
        l.*,
        k.key AS pkey,
        -- every rule of ingest/validate.py, strictly
        shape_ok
            AND match(event_id_raw, '^"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"$')
            AND startsWith(platform_raw, '"')
            AND (platform_text, vendor) IN (SELECT platform_id, argMax(vendor, updated_at) FROM platforms
                                            GROUP BY platform_id)
            AND startsWith(user_raw, '"') AND lengthUTF8(user_text) BETWEEN 1 AND 128
            AND type_raw IN ('', 'null', '"session"', '"install"')
            AND ts_ok AND ts_ms >= 946684800000 AND ts_ms <= now_ms + 300000
            AND (duration_raw IN ('', 'null')
                 OR (duration_raw = duration_lit AND length(duration_lit) <= 5 AND toUInt64(duration_lit) <= 86400))
            AND (bytes_raw IN ('', 'null')
                 OR (bytes_raw = bytes_lit AND length(bytes_lit) <= 13 AND toUInt64(bytes_lit) <= 1000000000000))
            AND (country_raw IN ('', 'null') OR (startsWith(country_raw, '"') AND country IN (SELECT code FROM countries)))
            AND (province_raw IN ('', 'null')
                 OR (startsWith(province_raw, '"') AND province IN (SELECT code FROM provinces) AND country = 'VN'))
            AND os_raw IN ('', 'null', '"android"', '"ios"', '"web"', '"other"')
            AND k.platform != ''                                                      AS ok,
        toUInt32OrZero(duration_lit)                                              AS duration_s,
        toUInt64OrZero(bytes_lit)                                                 AS bytes
    FROM
    (
        SELECT
            grp, req, line_no, vendor, now_ms,
            -- no backslash and no control character: every JSON string is its raw text between quotes
            NOT match(line, '[\\x00-\\x1f\\\\]') AND isValidJSON(line) AND startsWith(trimLeft(line), '{') AS parsed,
            JSONExtractKeysAndValuesRaw(if(parsed, line, '{}')) AS kv,
            arrayMap(x -> x.1, kv) AS keys,
            arrayMap(x -> x.2, kv) AS raws,
            parsed AND length(arrayDistinct(keys)) = length(keys)
                AND arrayAll(x -> x IN ('event_id', 'platform', 'user', 'type', 'ts', 'duration_s', 'bytes',
                                         'country', 'province', 'os'), keys)                   AS shape_ok,
            raws[indexOf(keys, 'event_id')]                                       AS event_id_raw,
            raws[indexOf(keys, 'platform')]                                       AS platform_raw,
            raws[indexOf(keys, 'user')]                                           AS user_raw,
            raws[indexOf(keys, 'type')]                                           AS type_raw,
            raws[indexOf(keys, 'ts')]                                             AS ts_raw,
            raws[indexOf(keys, 'duration_s')]                                     AS duration_raw,
            raws[indexOf(keys, 'bytes')]                                          AS bytes_raw,
            raws[indexOf(keys, 'country')]                                        AS country_raw,
            raws[indexOf(keys, 'province')]                                       AS province_raw,
            raws[indexOf(keys, 'os')]                                             AS os_raw,
            -- numbers as written (the raw values above are re-serialised: 60.0 would read 60)
            extract(line, '"duration_s"\\s*:\\s*([0-9]+)\\s*[,}]')                AS duration_lit,
            extract(line, '"bytes"\\s*:\\s*([0-9]+)\\s*[,}]')                     AS bytes_lit,
            substring(event_id_raw, 2, 36)                                        AS event_id_text,
            substring(platform_raw, 2, length(platform_raw) - 2)                  AS platform_text,
            substring(user_raw, 2, length(user_raw) - 2)                          AS user_text,
            if(type_raw = '"install"', 'install', 'session')                      AS type_text,
            if(startsWith(country_raw, '"'), substring(country_raw, 2, length(country_raw) - 2), 'VN') AS country,
            if(startsWith(province_raw, '"'), substring(province_raw, 2, length(province_raw) - 2), '') AS province,
            if(startsWith(os_raw, '"'), substring(os_raw, 2, length(os_raw) - 2), '') AS os,
            extractGroups(ts_raw,
                '^"(\\d{4})-(\\d{2})-(\\d{2})T(\\d{2}):(\\d{2}):(\\d{2})(?:\\.(\\d{1,3}))?(?:Z|([+-])(\\d{2}):(\\d{2}))"$') AS tg,
            toUInt16OrZero(tg[1]) AS y, toUInt8OrZero(tg[2]) AS mo, toUInt8OrZero(tg[3]) AS d,
            toUInt8OrZero(tg[4]) AS h, toUInt8OrZero(tg[5]) AS mi, toUInt8OrZero(tg[6]) AS s,
            toInt64(if(tg[8] = '-', -1, 1)) * (toInt64(toUInt8OrZero(tg[9])) * 3600 + toUInt8OrZero(tg[10]) * 60) AS offset_s,
            length(tg) = 10 AND y BETWEEN 2000 AND 2100 AND mo BETWEEN 1 AND 12 AND d >= 1
                AND toDayOfMonth(makeDate(y, mo, d)) = d AND toMonth(makeDate(y, mo, d)) = mo
                AND h < 24 AND mi < 60 AND s < 60 AND toUInt8OrZero(tg[9]) < 24 AND toUInt8OrZero(tg[10]) < 60 AS ts_ok,
            (toInt64(toUnixTimestamp(makeDateTime(if(ts_ok, y, 2000), if(ts_ok, mo, 1), if(ts_ok, d, 1),
                                                  h, mi, s, 'UTC'))) - offset_s) * 1000
                + toInt64(toUInt32OrZero(rightPad(tg[7], 3, '0')))                 AS ts_ms,
            toDate(fromUnixTimestamp64Milli(ts_ms, 'UTC'), zone)                  AS day,
            toStartOfMonth(day)                                                   AS month
        FROM ingest_lines
    ) AS l
    LEFT JOIN
    (
        -- the key every process uses for a platform-month: the earliest candidate (ingest/pseudonymise.py)
        SELECT platform, month, argMin(key, (created_at, key)) AS key
        FROM pseudonym_keys
        WHERE month >= (SELECT toDateOrZero(argMax(value, updated_at)) FROM service_state WHERE name = 'sealed_before')
        GROUP BY platform, month
    ) AS k ON l.platform_text = k.platform AND l.month = k.month
);
