-- count_sizes: per year, the users and (day, user) pairs of every platform's latest stored count of each month.
-- platform_monthly is partitioned by year and a part's few rows share one granule, so counting any month again
-- reads every state of its year: this is what a count of a month of that year costs (queries/rollups.py).
SELECT toYear(month) AS year, sum(mau + dau_sum) AS size
FROM
(
    SELECT platform, month, argMax(mau, event_rows) AS mau, argMax(dau_sum, event_rows) AS dau_sum
    FROM platform_monthly_counts
    WHERE toYear(month) IN {years:Array(UInt16)}
    GROUP BY platform, month
)
GROUP BY year
