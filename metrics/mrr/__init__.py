"""MRR, the chain of METRICS.md: SQL (chain_sql), points at period ends (points),
stored stages (refresh_stages writes them, stored_stages reads them), their cache
(stage_cache), and the registered metrics: by_month and by_day."""
