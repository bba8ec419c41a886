"""One submission per image and options, whatever runs at the same time (shared design: "Claim before bill").

Before an image is submitted, its record is created in S3 as a claim (`vehicle_photos.image_common.records`)
holding the exact URL about to be sent (sealed); only the task that creates it submits. Whoever finds a claim
in place follows it: a settled record is reused, a claim is tracked by asking Car-Cutter about its URL. A claim
Car-Cutter does not know is looked at again in S3: given back (claim it), changed (follow the new version), or
unchanged (once due, take it over by a conditional overwrite, if it is ours or older than the lease).

"Unknown" is not "never received" (shared design, round 3): Car-Cutter may file a submission late or lose its
answer after billing. A claim whose POST may have gone out is due only once Car-Cutter has still not known its
URL for `grace_seconds` after that POST (counted from the claim's last write by S3's clock when it was found
in place); until then it is only asked about. The same holds for the claims of a chunk answered 402.

Claims are leases that live (`image_common.claims`): while the task claims and submits (`with claims.keeper`),
the claims not yet submitted are renewed, and right before a chunk is posted `still_held` proves each is still
this task's; one another run took over is not posted but followed. Once posted, a claim holds the exact URL, so
whoever finds it settles it by asking Car-Cutter: it needs no renewal while the task is deferred.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

from airflow.sdk.exceptions import AirflowException

from vehicle_photos.carcutter.utils.batch import BatchImage
from vehicle_photos.image_common.claims import ClaimHolder, ClaimLostError, Lease, LeaseKeeper, lease_left
from vehicle_photos.image_common.record_store import ImageRecordStore, RecordChangedError, StoredRecord
from vehicle_photos.image_common.records import ImageRecord
from vehicle_photos.image_common.sealed import seal
from vehicle_photos.image_common.statuses import BatchState, RecordStatus, ResultStatus
from vehicle_photos.image_common.urls import redact_url

PROVIDER = "carcutter"
MAX_CLAIM_ATTEMPTS = 4  # claims of one image whose submission Car-Cutter never received, before giving up

log = logging.getLogger(__name__)


class SubmissionClaims:
    """The claims of one task (`holder`) over the images of its batch, and what it does about those it finds."""

    def __init__(
        self,
        records: ImageRecordStore,
        holder: ClaimHolder,
        options: dict[str, Any],
        lease_seconds: float,
        grace_seconds: float,
    ) -> None:
        self.records = records
        self.holder = holder
        self.options = options
        self.lease_seconds = float(lease_seconds)
        self.grace_seconds = float(grace_seconds)
        self.keeper = LeaseKeeper(records, self.lease_seconds)
        self._leases: dict[str, Lease] = {}  # by digest: the claims written and not posted yet

    def claim(self, image: BatchImage, url: str) -> None:
        """Write a claim to submit `url` for `image`: a new record, or a conditional overwrite of the claim
        being taken over. Losing the race means following the winner's record instead."""
        image.sealed_url, image.shown_url = seal(url), redact_url(url)
        image.attempts += 1
        image.charge_unconfirmed = False  # the claim we replace was never received, so never billed
        claim = image.record(RecordStatus.CLAIMED, self.options, **self.holder.stamp(self.lease_seconds))
        if image.record_etag is None:
            stored = self.records.create(claim)
        else:
            try:
                stored = self.records.replace(_held(image, claim), claim)
            except RecordChangedError:
                stored = None
        if stored is not None:
            image.state, image.mine, image.record_etag = BatchState.CLAIMED, True, stored.etag
            self._leases[image.digest] = self.keeper.keep(stored)
            return
        image.attempts -= 1
        existing = self.records.get(PROVIDER, image.digest)
        if existing is None:  # given back between our write and our read: try again next round
            image.record_etag = None
            return
        self.follow(image, existing)

    def recheck_unknown(self, image: BatchImage, due: bool, may_submit: bool = True) -> None:
        """Car-Cutter does not know the claimed URL, so its record says what happened: given back (claim it),
        changed (a retry or another run took the claim over with a new URL: follow that), or unchanged (once
        `due`, submit it ourselves if the claim is ours or stale, by conditional overwrite; give it back when
        nothing may be submitted any more; end it failed once it used up its attempts)."""
        existing = self.records.get(PROVIDER, image.digest)
        if existing is None:
            image.state, image.record_etag = BatchState.NEW, None
        elif existing.etag != image.record_etag:
            self.follow(image, existing)
        elif not due or not self.holder.may_take_over(existing, self.lease_seconds):
            return
        elif not may_submit:
            self.give_back([image], "not submitted: Car-Cutter credits are exhausted", ResultStatus.SKIPPED)
        elif image.attempts >= MAX_CLAIM_ATTEMPTS:
            image.state = BatchState.BILLED_FAILURE
            image.error = f"Car-Cutter never registered it after {image.attempts} submissions; not sent again"
        else:
            log.warning("taking over the claim of %s: Car-Cutter never received it", image.shown_source)
            image.state = BatchState.NEW

    def settle(self, image: BatchImage, record: ImageRecord) -> None:
        """Replace the claim we read with a settled record; if it changed meanwhile, write over the latest
        version unless it is settled already (then follow it)."""
        for _ in range(3):
            current = _held(image, record) if image.record_etag else self.records.get(PROVIDER, image.digest)
            if current is None:
                stored = self.records.create(record)
                if stored is not None:
                    image.record_etag = stored.etag
                    return
                continue
            if current.record.is_settled and current.etag != image.record_etag:
                self.follow(image, current)
                return
            try:
                image.record_etag = self.records.replace(current, record).etag
                return
            except RecordChangedError:
                image.record_etag = None
        raise AirflowException(f"the record of {image.shown_source} keeps changing under this task")

    def follow(self, image: BatchImage, stored: StoredRecord) -> None:
        """Take what a record found in place says (see `BatchImage.follow`). Its claim is due (if Car-Cutter
        does not know its URL) once the grace period after its last write has passed, and for another
        holder's claim once the lease has passed too."""
        record = stored.record
        mine = self.holder.owns(record)
        now = time.time()  # S3's durations, turned into deadlines on this worker's clock
        age = stored.age if stored.age is not None else now - (record.claimed_at or now)
        takeover_at = now + self.grace_seconds - age if record.sealed_submitted_url else 0.0
        if not mine:
            takeover_at = max(takeover_at, now + lease_left(stored, self.lease_seconds))
        image.follow(record, stored.etag, mine, takeover_at)
        if image.state == BatchState.WAITING:  # sent about when the claim was last written, by S3's clock
            image.submitted_at = now - age

    def still_held(self, chunk: list[BatchImage]) -> list[BatchImage]:
        """Right before `chunk` is posted: the images whose claims are still this task's. A claim another run
        took over (or that was given back) is read again and followed, never posted."""
        held = []
        for image in chunk:
            lease = self._leases.get(image.digest)
            try:
                if lease is not None:
                    self.keeper.ensure_held(lease)
                held.append(image)
            except ClaimLostError as lost:
                log.warning("not submitting %s: %s", image.shown_source, lost)
                self._leases.pop(image.digest, None)
                existing = self.records.get(PROVIDER, image.digest)
                image.record_etag = None
                if existing is None:
                    image.state = BatchState.NEW
                else:
                    self.follow(image, existing)
        return held

    def release(self, images: Iterable[BatchImage]) -> None:
        """Posted (or settled otherwise): stop renewing these claims, and keep the version last written."""
        for image in images:
            lease = self._leases.pop(image.digest, None)
            if lease is not None:
                self.keeper.release(lease)
                with lease.lock:
                    image.record_etag = lease.stored.etag

    def maybe_sent(self, images: Iterable[BatchImage]) -> None:
        """A POST of these images failed in a way that may have reached Car-Cutter (and billed them): track
        them by status, due for a take-over only after the grace period; a charge counts once it knows them."""
        due_at = time.time() + self.grace_seconds
        for image in images:
            image.state, image.submitted_at, image.takeover_at = BatchState.WAITING, time.time(), due_at
            image.resumed = image.charge_unconfirmed = True

    def give_back(self, images: Iterable[BatchImage], reason: str, as_status: str) -> None:
        """Not submitted, so not billed: remove our claims so the next run simply tries again."""
        for image in images:
            lease = self._leases.pop(image.digest, None)
            if lease is not None:
                self.keeper.give_back(lease)
            elif image.record_etag:
                self.records.delete(StoredRecord(image.record(RecordStatus.CLAIMED, self.options), image.record_etag))
            image.record_etag, image.mine = None, False
            image.not_sent(reason, as_status)


def _held(image: BatchImage, record: ImageRecord) -> StoredRecord:
    return StoredRecord(record, image.record_etag or "")
