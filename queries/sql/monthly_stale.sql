-- monthly_stale: for the given platforms and months, mau(m) = uniqExactMerge of the month's `users` states and
-- the sum of dau(d) over its days = uniqExactMerge of its (day, user) `user_days` states, with the version they
-- were counted at (sessions + installs so far) and the month's sums read in the same query (the same parts).
-- The caller (queries.rollups.count_and_store) keeps the pairs it asked for and writes every returned row to
-- platform_monthly_counts.
SELECT
    platform,
    month,
    sum(sessions) + sum(installs) AS rollup_rows,
    uniqExactMerge(users)         AS mau,
    uniqExactMerge(user_days)     AS dau_sum,
    sum(sessions)                 AS month_sessions,
    sum(installs)                 AS month_installs,
    sum(duration_s)               AS month_duration_s,
    sum(bytes)                    AS month_bytes
FROM platform_monthly
WHERE platform IN {platforms:Array(String)}
  AND month IN {months:Array(Date)}
GROUP BY platform, month
