-- monthly: per platform and month up to {last_month:Date}, what the metrics read (queries/rollups.py), from
-- platform_monthly and the stored user counts:
--   sessions, installs, duration_s, bytes  sums over the month (duration_s and bytes of sessions only)
--   event_rows                             the month's version: sessions + installs so far
--   counts                                 the month's stored counts, (event_rows, mau, dau_sum, sessions,
--                                          installs, duration_s, bytes, counted_at) each: the one whose
--                                          event_rows is the month's is current; the latest other one answers a
--                                          month still receiving events as it was then (its sums are 0 for
--                                          counts stored before migration 0010)
-- Months before the periods asked for are read for installs_total (their counts are not used).
-- {platform:String} = '' reads every platform. Definitions of the figures made from these: docs/METRICS.md.
SELECT
    m.platform                   AS platform,
    m.month                      AS month,
    m.month_sessions             AS sessions,
    m.month_installs             AS installs,
    m.month_duration_s           AS duration_s,
    m.month_bytes                AS bytes,
    m.rollup_rows                AS event_rows,
    c.counts                     AS counts
FROM
(
    SELECT
        platform,
        month,
        sum(sessions)                   AS month_sessions,
        sum(installs)                   AS month_installs,
        sum(duration_s)                 AS month_duration_s,
        sum(bytes)                      AS month_bytes,
        month_sessions + month_installs AS rollup_rows
    FROM platform_monthly
    WHERE month <= {last_month:Date}
      AND ({platform:String} = '' OR platform = {platform:String})
    GROUP BY platform, month
) AS m
LEFT JOIN
(
    SELECT platform, month,
           groupArray((event_rows, mau, dau_sum, sessions, installs, duration_s, bytes, counted_at)) AS counts
    FROM platform_monthly_counts
    WHERE month <= {last_month:Date}
      AND ({platform:String} = '' OR platform = {platform:String})
    GROUP BY platform, month
) AS c ON c.platform = m.platform AND c.month = m.month
ORDER BY platform, month
