"""Ingestion: decode a vendor's request, validate each event, check the platform, pseudonymise the
user, drop duplicates and write the rest to ClickHouse. See `ingest.pipeline` for the steps in order."""
