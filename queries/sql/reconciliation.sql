-- reconciliation: GET /v1/reconciliation (queries/reconciliation.py). For each platform of
-- {platforms:Array(String)} and each month from {first_month:Date} to {last_month:Date}, the latest
-- declaration (declared_totals, migration 0009: the highest version wins, merged or not) and the rows that
-- arrived for that platform with a `ts` in that month, per outcome (ingest_quality, migration 0008: summed).
-- Months without a declaration are left out.
SELECT
    d.platform,
    d.month,
    d.latest.1 AS events,
    d.latest.2 AS users,
    d.latest.3 AS declared_by,
    d.latest.4 AS declared_at,
    coalesce(q.accepted, 0)   AS accepted,
    coalesce(q.duplicates, 0) AS duplicates,
    coalesce(q.rejected, 0)   AS rejected
FROM
(
    SELECT
        platform,
        month,
        -- one tuple, taken whole: argMax of a Nullable column alone skips NULLs, so a total the latest
        -- declaration leaves out would come back from an earlier one
        argMax((events, users, declared_by, declared_at), version) AS latest
    FROM declared_totals
    WHERE month >= {first_month:Date} AND month <= {last_month:Date} AND has({platforms:Array(String)}, platform)
    GROUP BY platform, month
) AS d
LEFT JOIN
(
    SELECT
        platform,
        event_month,
        sumIf(events, outcome = 'accepted')  AS accepted,
        sumIf(events, outcome = 'duplicate') AS duplicates,
        sumIf(events, outcome = 'rejected')  AS rejected
    FROM ingest_quality
    WHERE event_month >= {first_month:Date} AND event_month <= {last_month:Date}
      AND has({platforms:Array(String)}, platform)
    GROUP BY platform, event_month
) AS q ON q.platform = d.platform AND q.event_month = d.month
ORDER BY d.platform, d.month
