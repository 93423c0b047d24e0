-- quality: GET /v1/quality (queries/quality.py). What became of the rows vendors sent, per vendor, platform
-- and arrival day from {first_day:Date} to {last_day:Date}: rows per outcome, rejection reason and lateness
-- bucket, from ingest_quality (migration 0008; a SummingMergeTree, so always summed here, never read as
-- merged). {vendor:String} = '' reads every vendor, {platform:String} = '' every platform.
SELECT
    vendor,
    platform,
    day,
    toString(outcome)  AS outcome,
    reason,
    toString(lateness) AS lateness,
    sum(events)        AS rows
FROM ingest_quality
WHERE day >= {first_day:Date} AND day <= {last_day:Date}
  AND ({vendor:String} = '' OR vendor = {vendor:String})
  AND ({platform:String} = '' OR platform = {platform:String})
GROUP BY vendor, platform, day, outcome, reason, lateness
HAVING rows > 0
ORDER BY vendor, platform, day, outcome, reason, lateness
