-- monthly: per platform and month up to {last_month:Date}, what the metrics read (queries/metrics.py),
-- from platform_monthly and the stored user counts:
--   sessions, installs, duration_s, bytes  sums over the month (duration_s and bytes of sessions only)
--   event_rows                             the month's version: sessions + installs so far
--   mau, dau_sum, counted                  mau(m) and the sum of dau(d) over the month's days, counted
--                                          from the current states when `counted` = 1; otherwise missing
--                                          or stale (recomputed by monthly_stale)
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
    c.counted_mau                AS mau,
    c.counted_dau_sum            AS dau_sum,
    coalesce(c.counted, 0)       AS counted
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
    SELECT platform, month, event_rows, any(mau) AS counted_mau, any(dau_sum) AS counted_dau_sum,
           toUInt8(1) AS counted
    FROM platform_monthly_counts
    WHERE month <= {last_month:Date}
      AND ({platform:String} = '' OR platform = {platform:String})
    GROUP BY platform, month, event_rows
) AS c ON c.platform = m.platform AND c.month = m.month AND c.event_rows = m.rollup_rows
ORDER BY platform, month
