"""One upload per image and options, whatever runs at the same time (shared design: "Claim before bill").

Before an image is uploaded, its record is created in S3 as a claim (`vehicle_photos.image_common.records`) holding the
upload's unique name (`upload_name`); only the task that creates it uploads. Whoever finds a claim in place:
- waits for the holder's outcome while the claim is another live holder's (a sibling thread's, or another
  task's whose lease its holder keeps renewing), and says in the log which image, whose claim, until when;
- takes it over (a conditional overwrite) when the claim is its own earlier try's or its lease ran out (by
  S3's clock), then finds out whether the upload happened: by the image id the claim recorded, or else by
  asking for the upload's name, again and again over the registration grace period, among the images listed
  after the claim's list anchor (`clippingmagic.utils.list_window`). Only an upload nobody can find is made
  again;
- ends it failed, with the reason, once it used up `max_attempts`: no claim stays pending forever.
A wait or a settling that would run past the task's deadline stops with `ClaimNotSettled`: the claim stays and a
later run resumes it. The claims held are kept alive while the task works (`image_common.claims.LeaseKeeper`):
use `UploadClaims` as a context manager around the work.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import Any

from vehicle_photos.clippingmagic.hooks.clippingmagic import ClippingMagicHook
from vehicle_photos.clippingmagic.utils.list_window import ListAnchor
from vehicle_photos.image_common.claims import ClaimHolder, Lease, LeaseKeeper, lease_end_shown, lease_left
from vehicle_photos.image_common.record_store import ImageRecordStore, RecordChangedError, StoredRecord
from vehicle_photos.image_common.records import ImageRecord
from vehicle_photos.image_common.registration import DEFAULT_REGISTRATION_GRACE_SECONDS
from vehicle_photos.image_common.statuses import RecordStatus

FIRST_WAIT_SECONDS = 1.0
MAX_WAIT_SECONDS = 15.0
WAIT_LOG_EVERY_SECONDS = 60.0
log = logging.getLogger(__name__)
DEFAULT_MAX_CLAIM_ATTEMPTS = 3
LIST_ANCHOR = "list_anchor"  # the claim's provider_ref key of its ListAnchor


class ClaimNotSettled(Exception):
    """The claim could not be settled before the task's deadline; it stays, and a later run resumes it."""


def upload_name(name: str, digest: str) -> str:
    """The name an upload is given (without extension): the image's name and its record's digest, so it is
    unique per image and options and can be looked for after a lost answer."""
    return f"{re.sub(r'[^A-Za-z0-9_-]+', '_', name)[:80]}.{digest[:24]}"


class HeldClaim:
    """A claim this task holds, kept alive by its `LeaseKeeper`; every write is conditional on the version held
    and raises `ClaimLostError` once the claim is someone else's.

    `image_id` is the upload's once it happened (resume by downloading); `found_by_name` says it was learnt by
    looking for the upload after a lost answer, so its charge is not in the record yet. A new image id and its
    charge are written with the claim's next save (final, or the failure): one write fewer per image, and a
    task killed in between is still resumed without paying again, by finding the upload by its name.
    """

    def __init__(
        self, keeper: LeaseKeeper, stored: StoredRecord, image_id: int | None = None, found_by_name: bool = False
    ) -> None:
        self.keeper = keeper
        self.lease: Lease = keeper.keep(stored)
        self.image_id = image_id
        self.found_by_name = found_by_name
        self.charged_this_run = 0
        self._unrecorded_charge = 0

    @property
    def stored(self) -> StoredRecord:
        return self.lease.stored

    @property
    def record(self) -> ImageRecord:
        return self.stored.record

    def ensure_held(self) -> None:
        """Right before the upload: ClaimLostError unless the claim is still this task's."""
        self.keeper.ensure_held(self.lease)

    def release(self) -> None:
        """The task is done with the claim (settled, or left for a rerun): stop renewing it."""
        self.keeper.release(self.lease)

    @property
    def list_anchor(self) -> ListAnchor | None:
        """Where the account's list ended before this claim was written: its upload is listed after that."""
        return ListAnchor.from_dict(self.record.provider_ref.get(LIST_ANCHOR))

    def learn_image_id(self, image_id: int, charge: int, this_run: bool) -> None:
        """The upload's image id, and the credits it cost (by this task, or by the earlier try that lost it)."""
        self.image_id = image_id
        self.charged_this_run += charge if this_run else 0
        self._unrecorded_charge += charge

    def unsaved_upload(self) -> tuple[int, int, bool] | None:
        """An upload learnt but not written to the claim yet: (image id, its charge, paid by this task)."""
        if self.image_id is None or self.record.provider_ref.get("image_id") == self.image_id:
            return None
        return self.image_id, self._unrecorded_charge, self.charged_this_run > 0

    def save(self, **changes: Any) -> ImageRecord:
        """Write `changes` (and what was learnt since the last save); ClaimLostError if someone took the claim
        over or removed it meanwhile."""
        learnt: dict[str, Any] = {"credits_charged": self.record.credits_charged + self._unrecorded_charge}
        if self.image_id is not None:
            learnt["provider_ref"] = {**self.record.provider_ref, "image_id": self.image_id}
        self.keeper.replace(self.lease, self.record.touched(**{**learnt, **changes}))
        self._unrecorded_charge = 0
        return self.record


class UploadClaims:
    """The claims of one task (`holder`), and what it does about the claims it finds.

    :param lease_seconds: the lease of this task's claims (renewed at a third of it), and of claims found
        without one (written by older releases).
    """

    def __init__(
        self,
        records: ImageRecordStore,
        hook: ClippingMagicHook,
        holder: ClaimHolder,
        lease_seconds: float,
        *,
        registration_grace_seconds: float = DEFAULT_REGISTRATION_GRACE_SECONDS,
        max_attempts: int = DEFAULT_MAX_CLAIM_ATTEMPTS,
        deadline: float | None = None,
    ) -> None:
        """`deadline` (time.monotonic()): no wait or settling runs past it."""
        self.records = records
        self.hook = hook
        self.holder = holder
        self.lease_seconds = float(lease_seconds)
        self.registration_grace_seconds = float(registration_grace_seconds)
        self.max_attempts = int(max_attempts)
        self.deadline = deadline
        self.keeper = LeaseKeeper(records, self.lease_seconds)

    def __enter__(self) -> UploadClaims:
        self.keeper.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.keeper.__exit__(*exc)

    def stamp(self) -> dict[str, Any]:
        """The fields a claim of this task carries."""
        return self.holder.stamp(self.lease_seconds)

    def claim_fields(self) -> dict[str, Any]:
        """What a new claim of this task carries besides the image: the holder's stamp and the list anchor."""
        anchor = self.hook.list_anchor()
        return {**self.stamp(), "provider_ref": {LIST_ANCHOR: anchor.to_dict()} if anchor else {}}

    def settle_upload(self, held: HeldClaim) -> int | None:
        """Whether the held claim's upload happened, by asking Clipping Magic over the registration grace
        period: its image id, or None once the service had all that time to list it. Raises ClaimNotSettled
        when the task's deadline comes first."""
        if held.image_id is not None:
            return held.image_id
        if not held.record.upload_name:
            return None
        if self.deadline is not None and time.monotonic() + self.registration_grace_seconds > self.deadline:
            raise ClaimNotSettled(f"no time left before the task's deadline to ask for {held.record.upload_name}")
        found = self.hook.await_upload(held.record.upload_name, held.list_anchor, self.registration_grace_seconds)
        if found is None:
            return None
        held.image_id, held.found_by_name = found.id, True
        return found.id

    def acquire(self, provider: str, digest: str, new_claim: Callable[[], ImageRecord]) -> HeldClaim | StoredRecord:
        """The claim of one image, held by this task, or its settled record (final or failed), as read.
        `new_claim()` makes the claim to create when there is no record; it may raise to refuse the image."""
        wait = FIRST_WAIT_SECONDS
        logged: tuple[str | None, float] = (None, 0.0)  # whose claim was last told about, and when
        stored = self.records.get(provider, digest)
        while True:
            if stored is None:
                created = self.records.create(new_claim())
                if created is not None:
                    return HeldClaim(self.keeper, created)
            elif stored.record.is_settled:
                return stored
            elif not self._sibling_works_on(stored) and self.holder.may_take_over(stored, self.lease_seconds):
                held = self._take_over(stored)
                if held is not None:
                    return held
            else:
                logged = self._tell_waiting(stored, logged)
                stale_in = lease_left(stored, self.lease_seconds)
                pause = max(0.1, min(wait, stale_in))
                if self.deadline is not None and time.monotonic() + pause > self.deadline:
                    raise ClaimNotSettled(
                        f"claimed by {stored.record.owner} for about {stale_in:.0f} s more, past the task's deadline"
                    )
                time.sleep(pause)
                wait = min(wait * 1.5, MAX_WAIT_SECONDS)
            stored = self.records.get(provider, digest)

    def _sibling_works_on(self, stored: StoredRecord) -> bool:
        """Another thread of this task holds the claim and is working on it: wait for its outcome. One it left
        (its outcome unknown) is resumed like an earlier try's."""
        return self.holder.holds(stored.record) and self.keeper.keeps(stored.record)

    def _tell_waiting(self, stored: StoredRecord, logged: tuple[str | None, float]) -> tuple[str | None, float]:
        """Say which image waits on whose claim until when: at first, when the holder changes, then every
        `WAIT_LOG_EVERY_SECONDS`."""
        record = stored.record
        whose = f"{record.owner} (try {record.owner_try})"
        if logged[0] == whose and time.monotonic() - logged[1] < WAIT_LOG_EVERY_SECONDS:
            return logged
        log.info(
            "waiting for %s: claimed by %s, held until %s (S3 time) unless its holder renews it",
            record.source or record.digest, whose, lease_end_shown(stored, self.lease_seconds),
        )  # fmt: skip
        return whose, time.monotonic()

    def reopen(self, settled: StoredRecord) -> HeldClaim | None:
        """Claim a settled image again, for an upload nobody can use any more (e.g. deleted from Clipping
        Magic after its review); None when the record changed meanwhile."""
        record = settled.record
        claim = record.touched(
            status=RecordStatus.CLAIMED, **self.claim_fields(), outputs={}, attempts=record.attempts + 1
        )
        try:
            return HeldClaim(self.keeper, self.records.replace(settled, claim))
        except RecordChangedError:
            return None

    def give_back(self, held: HeldClaim) -> None:
        """Remove a claim whose upload was surely never made (nothing was billed), so a later run may try."""
        self.keeper.give_back(held.lease)

    def _take_over(self, stored: StoredRecord) -> HeldClaim | StoredRecord | None:
        """Stamp the claim as this task's and settle its earlier attempt by asking; None when the claim changed
        meanwhile (read it again). A claim that used up its attempts ends failed (returned settled), unless its
        upload is found: that one is resumed, for a free download."""
        record = stored.record
        claim = record.touched(**self.stamp(), attempts=record.attempts + 1)
        try:
            held = HeldClaim(self.keeper, self.records.replace(stored, claim), record.provider_ref.get("image_id"))
        except RecordChangedError:
            return None
        log.warning("took over the claim of %s from %s (try %s)", record.source or record.digest, record.owner,
                    record.owner_try)  # fmt: skip
        known_before = held.image_id is not None
        self.settle_upload(held)
        if record.attempts < self.max_attempts or (held.image_id is not None and not known_before):
            return held
        reason = f"gave up after {record.attempts} attempts; last error: {record.last_error or 'none recorded'}"
        held.save(status=RecordStatus.FAILED, last_error=reason)
        held.release()
        return held.stored
