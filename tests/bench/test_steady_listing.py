"""The steady state's listing: as many images as the priming listing, all but the new ones the priming run's."""

from __future__ import annotations

import pytest

from bench.photos import make_listing, with_new_images
from bench.steady_state import new_image_count

ANGLES = ["front-left", "side-left", "rear"]


@pytest.mark.parametrize(("images", "new"), [(120, 1), (6000, 60), (100, 24)])
def test_keeps_the_earlier_keys_and_adds_the_new_ones(images: int, new: int) -> None:
    earlier = make_listing("priming", "2026-11-01", images, "carcutter", ANGLES)
    fresh = make_listing("new", "2026-11-03", new, "carcutter", ANGLES)

    steady = with_new_images(earlier, fresh, "2026-11-03")

    listed = [image["ref"] for row in steady.rows for image in row["images"]]
    assert len(listed) == len(set(listed)) == steady.image_count == images
    assert set(listed) == set(steady.photo_keys)
    unchanged = set(listed) & set(earlier.photo_keys)
    assert len(unchanged) == images - new
    assert set(listed) - unchanged == set(fresh.photo_keys)
    assert all(steady.photo_keys[key] == earlier.photo_keys[key] for key in unchanged)
    earlier_rows = {row["vehicle_id"]: row for row in earlier.rows}
    for row in steady.rows:
        if row["vehicle_id"] in earlier_rows:  # an unchanged vehicle keeps its fields and the order of its images
            before = earlier_rows[row["vehicle_id"]]
            assert {k: v for k, v in row.items() if k != "images"} == {k: v for k, v in before.items() if k != "images"}
            assert row["images"] == before["images"][: len(row["images"])]


@pytest.mark.parametrize(("images", "new"), [(120, 24), (6000, 72), (50_000, 512), (2400, 24)])
def test_the_unchanged_images_are_whole_vehicles(images: int, new: int) -> None:
    assert new_image_count(images, 24) == new
    earlier = make_listing("priming", "2026-11-01", images, "carcutter", ANGLES, per_vehicle=24)
    fresh = make_listing("new", "2026-11-03", new, "carcutter", ANGLES, per_vehicle=24)

    steady = with_new_images(earlier, fresh, "2026-11-03")

    earlier_rows = {row["vehicle_id"]: row for row in earlier.rows}
    kept = [row for row in steady.rows if row["vehicle_id"] in earlier_rows]
    assert kept and all(row["images"] == earlier_rows[row["vehicle_id"]]["images"] for row in kept)
    assert sum(len(row["images"]) for row in kept) == images - new
