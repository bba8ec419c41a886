"""A published date's numbers through Airflow's Stats, so StatsD or OpenTelemetry collect them beside Airflow's
own metrics ([metrics] statsd_on / otel_on). Names carry the provider (plain StatsD has no tags); the same
values also go out with a `provider` tag for backends that keep tags. README "Operating it" lists them.

- `vehicle_photos.credits_spent.<provider>` (counter): credits this run spent.
- `vehicle_photos.images.<state>.<provider>` (gauge): the date's images by state: final, failed (failed, or no
  result reported), waiting (pending: a batch or a human edit not finished; deferred by a dealer's budget;
  awaiting a dealer's confirmation), refused, skipped.
- `vehicle_photos.rejected_rows` (gauge): the date's rejected listing rows.
API calls are counted where they are made (`vehicle_photos.image_common.api_metrics`).
"""

from __future__ import annotations

from collections.abc import Iterable

from airflow.sdk.observability import stats

from include.pipeline.manifest import ManifestRow
from include.pipeline.planned_work import PROVIDERS
from vehicle_photos.image_common.results import ImageResult
from vehicle_photos.image_common.statuses import ResultStatus

PREFIX = "vehicle_photos"
IMAGE_STATES = {
    ResultStatus.FINAL: "final",
    ResultStatus.FAILED: "failed",
    ResultStatus.MISSING: "failed",
    ResultStatus.PENDING: "waiting",
    ResultStatus.DEFERRED: "waiting",  # a dealer's budget for the run was reached: the next run takes it
    ResultStatus.AWAITING_CONFIRMATION: "waiting",  # a dealer's changed profile waits for confirm_dealers
    ResultStatus.REFUSED: "refused",
    ResultStatus.SKIPPED: "skipped",
}


def record_run_metrics(rows: list[ManifestRow], results: Iterable[ImageResult], rejected_rows: int) -> None:
    spent = {provider: 0 for provider in PROVIDERS}
    for result in results:
        spent[result.provider] = spent.get(result.provider, 0) + result.credits_this_run
    for provider in sorted(spent):
        if spent[provider]:
            stats.incr(f"{PREFIX}.credits_spent.{provider}", count=spent[provider], tags={"provider": provider})
        counts = dict.fromkeys(sorted(set(IMAGE_STATES.values())), 0)
        for row in rows:
            if row.provider == provider:
                counts[IMAGE_STATES.get(row.status, "failed")] += 1
        for state, count in counts.items():
            stats.gauge(f"{PREFIX}.images.{state}.{provider}", count, tags={"provider": provider, "state": state})
    stats.gauge(f"{PREFIX}.rejected_rows", rejected_rows)
