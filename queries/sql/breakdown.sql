-- breakdown: per value of one dimension (province, country or os) and month of a period, the distinct
-- active users of one platform with that value (a user with two values counts in both).
SELECT
    key,
    month,
    uniqExactMerge(users) AS month_users
FROM platform_monthly_dims
WHERE platform = {platform:String}
  AND dim = {dim:String}
  AND month BETWEEN {first_month:Date} AND {last_month:Date}
GROUP BY key, month
ORDER BY key, month
