"""Alert records: ingest flow, dedupe, update/cancel, feeds."""
