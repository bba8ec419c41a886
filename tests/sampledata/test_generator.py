"""The sample data generator: deterministic, readable in every format, sized as asked, bad rows on request."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from dev.sampledata import generate
from dev.sampledata.vin import is_valid_vin


def _tree(root: Path) -> dict[str, bytes]:
    return {str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


def test_same_seed_gives_byte_identical_files_and_another_seed_does_not(tmp_path: Path) -> None:
    arguments = {"vehicles": 2, "images_per_vehicle": 3, "megapixels": 0.1, "inject_bad_rows": True}
    first = _tree(generate(tmp_path / "a", seed=5, **arguments).out_dir)
    second = _tree(generate(tmp_path / "b", seed=5, **arguments).out_dir)
    other = _tree(generate(tmp_path / "c", seed=6, **arguments).out_dir)
    assert first == second
    assert first["listings/vehicles.csv"] != other["listings/vehicles.csv"]


def test_formats_sizes_and_listing_shape(tmp_path: Path) -> None:
    sample = generate(
        tmp_path,
        seed=1,
        vehicles=4,
        images_per_vehicle=3,
        megapixels=0.12,
        bucket="lot-photos",
        http_base_url="http://127.0.0.1:9/lot-photos",
    )
    assert len(sample.photos) == 12
    for photo in sample.photos:
        image, mask = Image.open(photo.path), Image.open(photo.mask_path)
        assert image.format == "JPEG" and mask.mode == "L"
        assert image.size == mask.size
        assert 0.10e6 <= image.width * image.height <= 0.14e6
    frames = {
        "csv": pd.read_csv(sample.listing_files["csv"], dtype=str, keep_default_na=False),
        "jsonl": pd.read_json(sample.listing_files["jsonl"], lines=True, dtype=False),
        "parquet": pd.read_parquet(sample.listing_files["parquet"]),
    }
    assert sum(len(frame) for frame in frames.values()) == 4  # vehicles dealt to the formats in turn
    for frame in frames.values():
        assert list(frame.columns) == [
            "vehicle_id",
            "make",
            "model",
            "colour",
            "listing_status",
            "images",
            "features",
            "hotspots",
        ]
    csv_images = json.loads(frames["csv"].iloc[0]["images"])
    assert [image["angle"] for image in csv_images][-1] in ("interior", "detail")
    assert {image["provider"] for image in csv_images} == {None, "clippingmagic"}
    refs = [image["ref"] for row in sample.rows for image in row["images"]]
    assert any(ref.startswith("s3://lot-photos/photos/") for ref in refs)
    assert any(ref.startswith("photos/") for ref in refs)
    assert any(ref.startswith("http://127.0.0.1:9/lot-photos/photos/") for ref in refs)
    parquet_row = frames["parquet"].iloc[0]
    assert set(parquet_row["features"][0]) == {"title", "description", "icon", "type"}
    for row in sample.rows:
        assert is_valid_vin(row["vehicle_id"])
        assert row["listing_status"] in ("active", "sold")
        for hotspot in row["hotspots"]:
            width, height = Image.open(tmp_path / row["images"][hotspot["image"]]["ref"].split("lot-photos/")[-1]).size
            assert 0 <= hotspot["x"] < width and 0 <= hotspot["y"] < height


def test_injected_bad_rows_are_the_documented_four(tmp_path: Path) -> None:
    sample = generate(tmp_path, seed=2, vehicles=3, images_per_vehicle=1, megapixels=0.05, inject_bad_rows=True)
    rows = {row.reason: row.row for row in sample.injected}
    assert len(rows) == 4
    assert rows["missing vehicle_id"]["vehicle_id"] is None
    assert rows["ftp:// image ref"]["images"][0]["ref"].startswith("ftp://")
    assert not is_valid_vin(rows["bad VIN (16 characters, contains O)"]["vehicle_id"])
    assert rows["duplicate vehicle_id"]["vehicle_id"] == sample.rows[0]["vehicle_id"]
    written = pd.read_csv(sample.listing_files["csv"], dtype=str, keep_default_na=False)
    assert (written["vehicle_id"] == "").sum() == 1
    assert (written["vehicle_id"] == sample.rows[0]["vehicle_id"]).sum() == 2


def test_rejects_impossible_sizes(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="vehicles"):
        generate(tmp_path, vehicles=0)
