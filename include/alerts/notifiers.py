"""The project's alerts as the smtp provider's `SmtpNotifier`s (Slack: README "Operating it"). Each message is a
Jinja template rendered by the notifier with the callback's context."""

from __future__ import annotations

from typing import Any

from airflow.providers.smtp.notifications.smtp import SmtpNotifier
from airflow.sdk import AsyncCallback, DeadlineAlert, DeadlineReference

from include.alerts.settings import AlertSettings

FAILURE_XCOM_KEY = "failure"  # what the run's watcher found failed, for the failed-date message

FAILED_DATE_SUBJECT = (
    "[vehicle photos] {{ dag.dag_id }} failed for {{ ti.xcom_pull(task_ids='wait_for_listings', key='listing_date') }}"
)
FAILED_DATE_BODY = """{% set failure = ti.xcom_pull(task_ids=ti.task_id, key='failure') or {} %}
<p>The run <code>{{ run_id }}</code> of <b>{{ dag.dag_id }}</b> for {{ failure.get('date') }} failed.</p>
<ul>
<li>Failed tasks: {{ failure.get('failed_tasks', []) | join(', ') }}</li>
<li>Images: {{ failure.get('images', 'unknown') }}; not final: {{ failure.get('images_not_final', 'unknown') }}
 (by status: {% for status, count in (failure.get('images_by_status') or {}).items() -%}
{{ status }} {{ count }}{% if not loop.last %}, {% endif %}{% endfor %})</li>
<li>Rejected rows: {{ failure.get('rejected_rows', 'unknown') }}</li>
<li>Credits spent this run: {{ failure.get('credits_this_run', 'unknown') }}</li>
<li>Report: {{ failure.get('report') or 'not published' }}</li>
</ul>
<p>{{ exception }}</p>"""

TASK_FAILED_SUBJECT = "[vehicle photos] {{ dag.dag_id }}.{{ ti.task_id }} failed"
TASK_FAILED_BODY = """<p><b>{{ dag.dag_id }}.{{ ti.task_id }}</b> failed in run <code>{{ run_id }}</code>:</p>
<p>{{ exception }}</p>"""

LATE_SUBJECT = "[vehicle photos] {{ dag_run.dag_id }} run {{ dag_run.dag_run_id }} is late"
LATE_BODY = """<p>The run <code>{{ dag_run.dag_run_id }}</code> of <b>{{ dag_run.dag_id }}</b> (logical date
{{ dag_run.logical_date }}) has not finished by its deadline {{ deadline.deadline_time }}; it is
{{ dag_run.state }}.</p>"""


def _email(settings: AlertSettings, subject: str, body: str) -> dict[str, Any]:
    return {
        "to": list(settings.emails),
        "from_email": settings.from_email,
        "subject": subject,
        "html_content": body,
        "smtp_conn_id": settings.smtp_conn_id,
    }


def failed_date_callbacks(settings: AlertSettings) -> list[SmtpNotifier]:
    """For the run's watcher task: a failed date, with what failed."""
    return [SmtpNotifier(**_email(settings, FAILED_DATE_SUBJECT, FAILED_DATE_BODY))] if settings.emails else []


def task_failed_callbacks(settings: AlertSettings) -> list[SmtpNotifier]:
    """For a check whose failure is the message, e.g. Clipping Magic's credits below the threshold."""
    return [SmtpNotifier(**_email(settings, TASK_FAILED_SUBJECT, TASK_FAILED_BODY))] if settings.emails else []


def finish_deadline(settings: AlertSettings) -> DeadlineAlert | None:
    """A run not finished `finish_deadline` after it was queued: e-mailed from the triggerer."""
    if not settings.emails or settings.finish_deadline is None:
        return None
    return DeadlineAlert(
        reference=DeadlineReference.DAGRUN_QUEUED_AT,
        interval=settings.finish_deadline,
        callback=AsyncCallback(SmtpNotifier, kwargs=_email(settings, LATE_SUBJECT, LATE_BODY)),
    )
