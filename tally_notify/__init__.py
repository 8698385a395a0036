"""Tally reaches out: scheduled digests and alerts by email (SMTP) and Slack.

- `config.py`: what admins set on the Notifications page (validated when
  entered) and the secrets, read from `.streamlit/secrets.toml` or env vars.
- `state.py`: its own DuckDB file (`notify.duckdb` next to the main database):
  the settings, the alerts already fired, and every message sent or failed.
- `digest.py`: the digest's figures, each from a registered metric by name.
- `alerts.py`: the alert rules, each firing once per occurrence.
- `deliver.py`: SMTP and Slack with retries and backoff, every try logged.
- `loop.py`: `python -m tally_notify serve`, started beside the updater by
  `tally_ui/serve.py`; it never writes the revenue database, so it can never
  block a sync or a publish.
"""
