"""A compact per-provider index of final image records (`<records prefix>/_index/<provider>/`), so a daily
run over an unchanged inventory finds its images in a few reads instead of one GET per image. Records stay
the source of truth: an image missing from the index is looked up by its record."""

from __future__ import annotations

from collections.abc import Iterable

from vehicle_photos.image_common.record_store import ImageRecordStore
from vehicle_photos.image_common.records import ImageRecord
from vehicle_photos.image_common.segmented_index import SegmentedIndex

# What a reused image needs; the claim's bookkeeping stays in the record.
_INDEXED_FIELDS = ("provider", "identity", "options", "status", "source", "provider_ref", "revision", "quality",
                   "angle", "outputs", "credits_charged", "attempts", "updated_at")  # fmt: skip


class RecordIndex:
    def __init__(self, store: ImageRecordStore, provider: str) -> None:
        self.provider = provider
        self.segments = SegmentedIndex(
            store.client, store.bucket, f"{store.prefix}/_index/{provider}/", key_of=_digest_of_entry
        )

    def load(self) -> dict[str, ImageRecord]:
        """Every indexed final record, by digest."""
        return {digest: ImageRecord.from_dict(entry) for digest, entry in self.segments.load().items()}

    def append(self, records: Iterable[ImageRecord]) -> str | None:
        final = [record for record in records if record.is_final and record.provider == self.provider]
        return self.segments.append({name: record.to_dict()[name] for name in _INDEXED_FIELDS} for record in final)

    def compact(self) -> bool:
        return self.segments.compact()


def _digest_of_entry(entry: dict) -> str:
    return ImageRecord.from_dict(entry).digest
