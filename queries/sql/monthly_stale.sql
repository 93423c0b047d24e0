-- monthly_stale: for the given platforms and months, mau(m) = uniqExactMerge of the month's `users`
-- states and the sum of dau(d) over its days = uniqExactMerge of its (day, user) `user_days` states,
-- with the version they were counted at (sessions + installs so far). The caller keeps the pairs it
-- asked for and writes every returned row to platform_monthly_counts.
SELECT
    platform,
    month,
    sum(sessions) + sum(installs) AS rollup_rows,
    uniqExactMerge(users)         AS mau,
    uniqExactMerge(user_days)     AS dau_sum
FROM platform_monthly
WHERE platform IN {platforms:Array(String)}
  AND month IN {months:Array(Date)}
GROUP BY platform, month
