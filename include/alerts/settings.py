"""Alert settings, from Airflow's configuration section `[vehicle_photos]` (environment
`AIRFLOW__VEHICLE_PHOTOS__<NAME>`): they shape the DAGs (callbacks, deadlines), so they are read when the DAG files
are parsed, which must not read Variables.

- `alert_emails`: comma-separated recipients; empty (the default) sends no e-mail.
- `alert_smtp_conn_id`: the SMTP connection (default `smtp_default`); its extra `from_email` is the sender
  unless `alert_from` is set.
- `finish_deadline_hours`: a run not finished this long after it was queued is reported late (default 22:
  the listings wait of 20 h plus processing); 0 switches the deadline alert off.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from airflow.sdk import conf

SECTION = "vehicle_photos"


@dataclass(frozen=True)
class AlertSettings:
    emails: tuple[str, ...]
    smtp_conn_id: str
    from_email: str | None
    finish_deadline: timedelta | None

    @classmethod
    def from_config(cls) -> AlertSettings:
        emails = conf.get(SECTION, "alert_emails", fallback="") or ""
        hours = conf.getfloat(SECTION, "finish_deadline_hours", fallback=22.0)
        return cls(
            emails=tuple(part.strip() for part in emails.split(",") if part.strip()),
            smtp_conn_id=conf.get(SECTION, "alert_smtp_conn_id", fallback="smtp_default"),
            from_email=conf.get(SECTION, "alert_from", fallback=None) or None,
            finish_deadline=timedelta(hours=hours) if hours > 0 else None,
        )
