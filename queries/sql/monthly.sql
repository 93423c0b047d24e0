-- monthly: per platform and month up to {last_month:Date}, what the metrics read (queries/rollups.py), from
-- platform_monthly and the stored user counts:
--   sessions, installs, duration_s, bytes  sums over the month (duration_s and bytes of sessions only)
--   event_rows                             the month's version: sessions + installs so far
--   mau, dau_sum, counted                  mau(m) and the sum of dau(d) over the month's days, counted from the
--                                          current states when `counted` = 1; otherwise missing or stale
--   last_*                                 the latest stored count with its sums (version last_rows, made at
--                                          last_counted_at; last_rows = 0: none), to answer a month still
--                                          receiving events as it was then
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
    coalesce(c.counted, 0)       AS counted,
    l.last_rows                  AS last_rows,
    l.last_mau                   AS last_mau,
    l.last_dau_sum               AS last_dau_sum,
    l.last_sessions              AS last_sessions,
    l.last_installs              AS last_installs,
    l.last_duration_s            AS last_duration_s,
    l.last_bytes                 AS last_bytes,
    l.last_counted_at            AS last_counted_at
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
LEFT JOIN
(
    SELECT platform, month, max(event_rows) AS last_rows, argMax(mau, event_rows) AS last_mau,
           argMax(dau_sum, event_rows) AS last_dau_sum, argMax(sessions, event_rows) AS last_sessions,
           argMax(installs, event_rows) AS last_installs, argMax(duration_s, event_rows) AS last_duration_s,
           argMax(bytes, event_rows) AS last_bytes, argMax(counted_at, event_rows) AS last_counted_at
    FROM platform_monthly_counts
    WHERE month <= {last_month:Date}
      AND ({platform:String} = '' OR platform = {platform:String})
      AND sessions + installs = event_rows  -- counts stored with their sums (migration 0010)
    GROUP BY platform, month
) AS l ON l.platform = m.platform AND l.month = m.month
ORDER BY platform, month
