"""Planning, the manifest and the report as data: routing, what a vehicle needs, batching, matching results
to planned images by (provider, vehicle, image name), and the HTML a person reads."""

import io
import json

import pandas as pd
import pytest

from include.listings.schema import VehicleListing
from include.pipeline.manifest import build_manifest, manifest_json, manifest_parquet, summarize
from include.pipeline.planned_work import batches, plan_images, select_vehicles, vehicle_work
from include.pipeline.report import render_report, thumbnail_name
from include.pipeline.settings import PipelineSettings
from include.pipeline.thumbnails import thumbnail_data_uri
from include.pipeline.vehicle_state import digest_of
from tests.photos import car_photo
from vehicle_photos.image_common.results import ImageResult

VINS = ["1HGCM82633A004352", "WVWZZZ1JZXW000001", "JH4KA8260MC000000"]


def listing(vin: str, images: list[dict], **fields) -> VehicleListing:
    return VehicleListing(vehicle_id=vin, make="Volvo", model="V60", images=images, **fields)


def test_routing_and_ref_resolution():
    settings = PipelineSettings(bucket="b")
    vehicle = listing(VINS[0], [
        {"ref": "photos/a.jpg", "angle": "side-left"}, {"ref": "photos/i.jpg", "angle": "interior"},
        {"ref": "https://cdn.example/x.jpg?sig=1", "angle": "detail", "provider": "carcutter"},
        {"ref": "s3://other/k.jpg"},
    ])  # fmt: skip
    images = plan_images(vehicle, settings)
    assert [(i.name, i.provider, i.source) for i in images] == [
        ("00-side-left", "carcutter", "s3://b/photos/a.jpg"),
        ("01-interior", "clippingmagic", "s3://b/photos/i.jpg"),
        ("02-detail", "carcutter", "https://cdn.example/x.jpg?sig=1"),  # an explicit provider wins over the angle
        ("03-image", "carcutter", "s3://other/k.jpg"),
    ]
    assert images[2].shown_source == "https://cdn.example/x.jpg?…"


def test_a_vehicle_needs_only_what_changed_since_it_was_last_applied():
    vehicle = listing(
        VINS[0], [{"ref": "photos/a.jpg", "angle": "front"}, {"ref": "photos/b.jpg"}],
        features=[{"title": "Heated seats", "icon": "seat", "type": "text"}],
        hotspots=[{"image": 1, "x": 5, "y": 6, "location": "door"}],
    )  # fmt: skip
    images = plan_images(vehicle, PipelineSettings(bucket="b"))
    fresh = vehicle_work(vehicle, images, applied={})
    assert fresh.register == {
        "vehicle_id": VINS[0], "vehicle_manufacturer": "Volvo", "vehicle_model": "V60", "vehicle_color": None,
    }  # fmt: skip
    assert fresh.features == {"vehicle_id": VINS[0], "features": [{"title": "Heated seats", "icon": "seat",
                                                                    "type": "text"}]}  # fmt: skip
    assert fresh.hotspots == [
        {"image_id": f"{VINS[0]}/00-front", "annotations": []},
        {"image_id": f"{VINS[0]}/01-image", "annotations": [{"x": 5, "y": 6, "location": "door"}]},
    ]
    applied = {(entry["aspect"], entry["vehicle_id"]): entry["digest"] for entry in fresh.applied}
    unchanged = vehicle_work(vehicle, images, applied)
    assert not unchanged.has_work and unchanged.applied == []
    applied[("features", VINS[0])] = digest_of({"something": "else"})
    changed = vehicle_work(vehicle, images, applied)
    assert changed.features and changed.register is None and changed.hotspots is None


def test_batches_grow_to_stay_within_the_map_limit():
    assert [len(b) for b in batches(list(range(5)), PipelineSettings(batch_size=2))] == [2, 2, 1]
    many = batches(list(range(1000)), PipelineSettings(batch_size=2, max_batches=128))
    assert len(many) <= 128 and sum(map(len, many)) == 1000


def test_vehicle_subset():
    listings = [listing(v, [{"ref": "photos/a.jpg"}]) for v in VINS]
    assert [x.vehicle_id for x in select_vehicles(listings, [VINS[1]])] == [VINS[1]]
    assert len(select_vehicles(listings, [])) == 3


def test_settings_from_params_validate_and_split_lists():
    settings = PipelineSettings.from_params({"vehicle_ids": f"{VINS[0]}, {VINS[1]}", "cut_type": "blur", "bucket": ""})
    assert settings.vehicle_ids == (VINS[0], VINS[1])
    assert settings.cut_type == "blur"
    assert settings.bucket == "vehicle-photos"
    with pytest.raises(ValueError, match="cut_type"):
        PipelineSettings.from_params({"cut_type": "sepia"})
    with pytest.raises(ValueError, match="listing_date"):
        PipelineSettings.from_params({"listing_date": "None"})
    with pytest.raises(ValueError, match="listing_date"):
        PipelineSettings.from_params({"listing_date": "2026-13-45"})


def test_manifest_matches_results_by_provider_vehicle_and_name_and_the_report_reads_well():
    settings = PipelineSettings(bucket="b")
    first = plan_images(listing(VINS[0], [{"ref": "https://cdn.example/a.jpg?token=s3cr3t", "angle": "side-left"},
                                          {"ref": "photos/i.jpg", "angle": "interior"}]), settings)  # fmt: skip
    second = plan_images(listing(VINS[1], [{"ref": "photos/f.jpg", "angle": "front"}]), settings)
    results = [
        ImageResult("carcutter", VINS[0], "00-side-left", "https://cdn.example/a.jpg?…", "final", quality="retake",
                    angle="exterior/side-left", credits_charged=1, outputs={"result": "s3://b/processed/a.jpg"}),
        ImageResult("clippingmagic", VINS[0], "01-interior", "s3://b/photos/i.jpg", "refused",
                    error="s3://b/photos/i.jpg is text/html, not an image"),
    ]  # fmt: skip
    rows = build_manifest([*first, *second], results)
    assert [(r.vehicle_id, r.status) for r in rows] == [(VINS[0], "final"), (VINS[0], "refused"), (VINS[1], "missing")]
    assert rows[0].angle == "exterior/side-left" and rows[0].result == "s3://b/processed/a.jpg"
    assert "s3cr3t" not in manifest_json(rows).decode()
    frame = pd.read_parquet(io.BytesIO(manifest_parquet(rows)))
    assert list(frame["status"]) == ["final", "refused", "missing"]

    summary = summarize(rows, credits_this_run=1, rejected_rows=1, sold_vehicles_deleted=0)
    assert summary.by_provider == {"carcutter": 2, "clippingmagic": 1} and summary.retakes == 1
    thumbnails = {
        thumbnail_name(rows[0], "before"): thumbnail_data_uri(car_photo(1, (400, 300), "PNG"), 64_000_000),
        thumbnail_name(rows[0], "after"): thumbnail_data_uri(car_photo(2, (400, 300), "PNG"), 64_000_000),
    }
    rejected = [{"file": "x.xlsx", "line": None, "reason": "unsupported file type '.xlsx'"}]
    html = render_report("2026-11-01", summary, rows, rejected, thumbnails, thumbnail_vehicles=50)
    assert "not an image" in html and "unsupported file type" in html and "s3cr3t" not in html
    assert html.count("data:image/jpeg;base64,") == 2  # before and after of the one finished image
    assert "Retake suggested (1)" in html
    assert json.loads(manifest_json(rows)) == json.loads(manifest_json(build_manifest([*first, *second], results)))
