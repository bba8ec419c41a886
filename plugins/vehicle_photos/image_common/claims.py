"""Who holds a claim, how long it lives, and how its holder keeps it alive.

A claim is a lease. Its holder is one process of one task instance (`ClaimHolder`: dag/run/task/map_index, the
try, and a token of its own). Threads of one holder share its claims (`holds`): they wait for each other's
outcome, never take each other's claim over. A later process of the same task instance (a retry, or the task
resumed after a deferral) resumes its claims at once (`owns`): the earlier process is gone. Anyone else waits
for the claim's outcome and takes it over only once the service does not know the claimed call and the lease
ran out: the claim's last version is older than its `lease_seconds` by S3's clock (LastModified against the
answer's Date), so no two workers' clocks are ever compared.

A live holder keeps its claims young (`LeaseKeeper`): a background thread renews each claim once it is a third
of its lease old (a conditional replace bumping `lease_renewals`, so the version has a new ETag), and right
before a billable call `ensure_held` proves the claim is still this holder's, by a conditional write unless the
claim was written under a tenth of a lease ago (then nobody may take it for nine tenths more). A write that finds
the claim changed or gone raises `ClaimLostError`: the holder makes no call, reads the record again and follows
what it says. A dead holder stops renewing, so its claims free up one lease after its last write.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from vehicle_photos.image_common.record_store import ImageRecordStore, RecordChangedError, StoredRecord
from vehicle_photos.image_common.records import ImageRecord

DEFAULT_CLAIM_LEASE_SECONDS = 5 * 60
RENEW_AT_SHARE = 1 / 3  # of the lease: when a claim is renewed
FRESH_SHARE = 1 / 10  # of the lease: a claim written more recently is surely still held
_log = logging.getLogger(__name__)


class ClaimLostError(RecordChangedError):
    """Someone else took this holder's claim over, or it was given back: read the record again and follow it."""


def _new_token() -> str:
    return uuid.uuid4().hex[:16]


@dataclass(frozen=True)
class ClaimHolder:
    key: str
    try_number: int = 1
    token: str = field(default_factory=_new_token)

    @classmethod
    def of(cls, context: Any) -> ClaimHolder:
        """The task instance running now, in this process; outside a task (scripts, tests of a hook), a one-off
        holder."""
        ti = (context or {}).get("ti")
        if ti is None:
            return cls(f"adhoc/{uuid.uuid4().hex}")
        return cls(f"{ti.dag_id}/{ti.run_id}/{ti.task_id}/{ti.map_index}", int(ti.try_number or 1))

    def holds(self, record: ImageRecord) -> bool:
        """This very holder's claim: where threads share the holder, a sibling thread's, to wait for."""
        return record.owner == self.key and record.owner_token == self.token

    def owns(self, record: ImageRecord) -> bool:
        """This task instance's claim: this holder's, or an earlier try's (or this try's before a deferral)."""
        return record.owner == self.key

    def may_take_over(self, stored: StoredRecord, default_lease_seconds: float) -> bool:
        """Only asked once the service does not know the claimed call."""
        return self.owns(stored.record) or lease_expired(stored, default_lease_seconds)

    def stamp(self, lease_seconds: float | None = None) -> dict[str, Any]:
        """The fields a claim written by this holder carries."""
        lease = {"lease_seconds": float(lease_seconds)} if lease_seconds else {}
        return {"owner": self.key, "owner_try": self.try_number, "owner_token": self.token,
                "claimed_at": time.time(), **lease}  # fmt: skip


def lease_of(record: ImageRecord, default_lease_seconds: float) -> float:
    """The lease its holder promised to renew within (claims of older releases: the reader's setting)."""
    return float(record.lease_seconds or default_lease_seconds)


def lease_left(stored: StoredRecord, default_lease_seconds: float) -> float:
    """Seconds of S3 time until the claim may be taken over, if its holder does not renew it (<= 0: now)."""
    age = stored.age
    if age is None:  # an S3 that sends no dates: the holder's own clock is all there is
        age = time.time() - (stored.record.claimed_at or 0.0)
    return lease_of(stored.record, default_lease_seconds) - age


def lease_expired(stored: StoredRecord, default_lease_seconds: float) -> bool:
    """Whether the claim may be taken over (by anyone). A record without a holder (the first release wrote
    those) has no lease to wait for."""
    return stored.record.owner is None or lease_left(stored, default_lease_seconds) < 0


def lease_end_shown(stored: StoredRecord, default_lease_seconds: float) -> str:
    """When the lease ends unless renewed, in UTC by S3's clock, for the log."""
    now = stored.seen_at if stored.seen_at is not None else time.time()
    end = now + max(0.0, lease_left(stored, default_lease_seconds))
    return datetime.fromtimestamp(end, UTC).isoformat(timespec="seconds")


class Lease:
    """One claim a holder keeps: the version it last wrote, and whether it lost it."""

    def __init__(self, stored: StoredRecord) -> None:
        self.stored = stored
        self.written = time.monotonic()  # this worker's clock, only ever compared with itself
        self.lost: ClaimLostError | None = None
        self.lock = threading.Lock()

    @property
    def record(self) -> ImageRecord:
        return self.stored.record


class LeaseKeeper:
    """Keeps a holder's claims alive while it works; use as a context manager around the work.

    :param lease_seconds: the lease written into this holder's claims; each is renewed at a third of it.
    """

    def __init__(self, records: ImageRecordStore, lease_seconds: float) -> None:
        self.records = records
        self.lease_seconds = float(lease_seconds)
        self._kept: dict[int, Lease] = {}
        self._kept_lock = threading.Lock()
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    def __enter__(self) -> LeaseKeeper:
        self._stop.clear()
        self._renewer = threading.Thread(target=self._renew_while_working, name="claim-renewer", daemon=True)
        self._renewer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join()

    def keep(self, stored: StoredRecord) -> Lease:
        """Start keeping a claim this holder just wrote (created, or took over)."""
        lease = Lease(stored)
        with self._kept_lock:
            self._kept[id(lease)] = lease
        return lease

    def keeps(self, record: ImageRecord) -> bool:
        """Whether a thread of this holder is still working on this image's claim."""
        with self._kept_lock:
            return any(lease.record.digest == record.digest for lease in self._kept.values())

    def release(self, lease: Lease) -> None:
        """Stop renewing: the claim is settled, given back, or left for a rerun to resume."""
        with self._kept_lock:
            self._kept.pop(id(lease), None)

    def replace(self, lease: Lease, record: ImageRecord) -> StoredRecord:
        """Write `record` over the claim held; ClaimLostError if it is not this holder's any more."""
        with lease.lock:
            return self._write(lease, record)

    def give_back(self, lease: Lease) -> bool:
        """Remove the claim (nothing was billed); False if it was not this holder's any more."""
        with lease.lock:
            self.release(lease)
            return lease.lost is None and self.records.delete(lease.stored)

    def ensure_held(self, lease: Lease) -> None:
        """Right before a billable call: ClaimLostError unless the claim is surely still this holder's."""
        with lease.lock:
            if lease.lost is not None:
                raise lease.lost
            if time.monotonic() - lease.written >= self.lease_seconds * FRESH_SHARE:
                self._write(lease, _renewed(lease.record))

    def _write(self, lease: Lease, record: ImageRecord) -> StoredRecord:
        if lease.lost is not None:
            raise lease.lost
        sent = time.monotonic()
        try:
            lease.stored = self.records.replace(lease.stored, record)
        except RecordChangedError as error:
            lease.lost = ClaimLostError(f"the claim of {record.source or record.digest} is not ours any more: {error}")
            self.release(lease)
            raise lease.lost from None
        lease.written = sent
        return lease.stored

    def _renew_while_working(self) -> None:
        renew_at = self.lease_seconds * RENEW_AT_SHARE
        while not self._stop.wait(renew_at / 2):
            with self._kept_lock:
                due = [lease for lease in self._kept.values() if time.monotonic() - lease.written >= renew_at]
            for lease in due:
                try:
                    with lease.lock:
                        if id(lease) in self._kept and time.monotonic() - lease.written >= renew_at:
                            self._write(lease, _renewed(lease.record))
                except ClaimLostError as error:
                    _log.warning("%s", error)
                except Exception as error:  # S3 hiccup: the next pass tries again, ensure_held before any call
                    _log.warning("could not renew the claim of %s: %s", lease.record.source, error)


def _renewed(record: ImageRecord) -> ImageRecord:
    return record.touched(lease_renewals=record.lease_renewals + 1)
