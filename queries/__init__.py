"""ClickHouse schema, metric SQL and the code that runs it."""
