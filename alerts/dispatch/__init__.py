"""Dispatch: planner, delivery queue, workers, rate limits, retries, tracking, MMSC connectors."""
