"""The statuses an image goes through, in one place. `StrEnum`s: a member is its string, so records, batch
files, results, manifests and reports keep the JSON they always had, and a status read back from JSON compares
equal to its member.

- `RecordStatus`: the durable image record's state (`image_common.records`).
- `ResultStatus`: one image's outcome in a run, as operators report it and the manifest, report and metrics
  show it (`image_common.results`, `include.pipeline.manifest`).
- `BatchState`: where an image stands inside one Car-Cutter process-images task (`carcutter.utils.batch`).
- `WaitOutcome`: how a trigger's wait ended, the `status` of its one event (Car-Cutter's batch status trigger,
  Clipping Magic's result trigger, the listing files' quiet-period trigger, and the tasks they resume).

Car-Cutter's own status vocabulary is `carcutter.utils.statuses.ApiStatus`.
"""

from __future__ import annotations

from enum import StrEnum


class RecordStatus(StrEnum):
    CLAIMED = "claimed"  # the holder may make the billable call; its outcome is found by asking the service
    FINAL = "final"  # outputs stored; reused by every later run
    FAILED = "failed"  # billed, and the service said the image cannot be processed; not retried automatically
    # Written by the first release, without claim fields; still read, as claims whose holder is gone:
    SUBMITTED = "submitted"
    ERROR = "error"


class ResultStatus(StrEnum):
    FINAL = "final"  # outputs stored, this run or an earlier one
    FAILED = "failed"  # processed into an error, or billed and the result could not be stored
    REFUSED = "refused"  # never sent: not allowed, unreadable or not a usable image; nothing billed
    SKIPPED = "skipped"  # not started, e.g. credits ran out
    PENDING = "pending"  # sent, not finished when the wait ended; a rerun resumes it
    # set by the planner, never sent:
    DEFERRED = "deferred"  # the dealer's credit budget for the run was reached; the next run takes it
    AWAITING_CONFIRMATION = "awaiting_confirmation"  # a changed profile would spend more than allowed
    # set by the manifest:
    MISSING = "missing"  # planned, but no task reported on it (its task failed before writing its results)


OPERATOR_STATUSES = (
    ResultStatus.FINAL,
    ResultStatus.FAILED,
    ResultStatus.REFUSED,
    ResultStatus.SKIPPED,
    ResultStatus.PENDING,
)  # what an operator reports


class BatchState(StrEnum):
    NEW = "new"  # usable and identified: claim it and submit
    CLAIMED = "claimed"  # our claim is written; submit it
    WAITING = "waiting"  # sent (by us, or by the holder of a claim we track): ask Car-Cutter until it finishes
    READY = "ready"  # finished: store the result
    DONE = "done"  # result stored (now or by an earlier run)
    BILLED_FAILURE = "failed"  # Car-Cutter processed it into an error, or the result is gone for good
    NOT_SENT = "not_sent"  # refused before any call, or not submitted (credits ran out); nothing billed
    TIMED_OUT = "timed_out"  # still processing when the wait ended; the claim stays for a rerun to resume
    UNOPENABLE = "unopenable"  # its claim's sealed URL opens with no configured key: failed, the claim stays


class WaitOutcome(StrEnum):
    COMPLETE = "complete"  # Car-Cutter: every watched image finished
    SUCCESS = "success"  # Clipping Magic: every watched image has a new result
    READY = "ready"  # listing files: the date's files are there and quiet
    TIMEOUT = "timeout"  # the deadline passed first
    UNKNOWN_URLS = "unknown"  # Car-Cutter: a URL stayed unknown to it too long (its claim is due a re-check)
    ERROR = "error"  # waiting longer cannot help (polling stopped, an unknown image, refused credentials)
