import io
import json

import pandas as pd
import pytest
from PIL import Image

from include.listings.schema import VehicleListing
from include.pipeline.manifest import build_manifest, manifest_json, manifest_parquet, summarize
from include.pipeline.plan import plan_batches, select_vehicles
from include.pipeline.report import render_report
from include.pipeline.settings import PipelineSettings

VINS = ["1HGCM82633A004352", "WVWZZZ1JZXW000001", "JH4KA8260MC000000"]


def listing(vin: str, images: list[dict]) -> VehicleListing:
    return VehicleListing(vehicle_id=vin, make="Volvo", model="V60", images=images)


def test_routing_batching_and_ref_resolution():
    settings = PipelineSettings(bucket="b", batch_size=2)
    listings = [
        listing(VINS[0], [{"ref": "photos/a.jpg", "angle": "side-left"}, {"ref": "photos/i.jpg", "angle": "interior"}]),
        listing(VINS[1], [{"ref": "https://cdn.example/x.jpg", "angle": "detail", "provider": "carcutter"}]),
        listing(VINS[2], [{"ref": "s3://other/k.jpg"}]),
    ]
    batches = plan_batches(listings, settings)
    assert [len(b["vehicles"]) for b in batches] == [2, 1]  # sorted by vehicle id, whole vehicles per batch
    first, second = batches
    assert [i["source"] for i in first["clippingmagic_images"]] == ["s3://b/photos/i.jpg"]
    assert {i["source"] for i in first["carcutter_images"] + second["carcutter_images"]} == {
        "s3://b/photos/a.jpg",
        "https://cdn.example/x.jpg",  # explicit provider wins over the detail angle
        "s3://other/k.jpg",
    }
    assert first["vehicles"][0] == {
        "vehicle_id": VINS[0], "vehicle_manufacturer": "Volvo", "vehicle_model": "V60", "vehicle_color": None,
    }  # fmt: skip
    assert [a["image_id"] for a in first["annotations"]][:2] == [f"{VINS[0]}/00-side-left", f"{VINS[0]}/01-interior"]


def test_hotspots_and_features_become_sync_items():
    vehicle = VehicleListing(
        vehicle_id=VINS[0], make="Volvo", model="V60",
        images=[{"ref": "photos/a.jpg", "angle": "front"}, {"ref": "photos/b.jpg"}],
        features=[{"title": "Heated seats", "icon": "seat", "type": "text"}],
        hotspots=[{"image": 1, "x": 5, "y": 6, "location": "door"}],
    )  # fmt: skip
    (batch,) = plan_batches([vehicle], PipelineSettings(bucket="b"))
    heated_seats = {"title": "Heated seats", "icon": "seat", "type": "text"}
    assert batch["features"] == [{"vehicle_id": VINS[0], "features": [heated_seats]}]
    assert batch["annotations"] == [
        {"image_id": f"{VINS[0]}/00-front", "annotations": []},
        {"image_id": f"{VINS[0]}/01-image", "annotations": [{"x": 5, "y": 6, "location": "door"}]},
    ]


def test_vehicle_subset():
    listings = [listing(v, [{"ref": "photos/a.jpg"}]) for v in VINS]
    assert [x.vehicle_id for x in select_vehicles(listings, [VINS[1]])] == [VINS[1]]
    assert len(select_vehicles(listings, [])) == 3


def test_settings_from_params_validates_and_splits_lists():
    settings = PipelineSettings.from_params({"vehicle_ids": f"{VINS[0]}, {VINS[1]}", "cut_type": "blur", "bucket": ""})
    assert settings.vehicle_ids == (VINS[0], VINS[1])
    assert settings.cut_type == "blur"
    assert settings.bucket == "vehicle-photos"
    with pytest.raises(ValueError, match="cut_type"):
        PipelineSettings.from_params({"cut_type": "sepia"})


def png_bytes(colour: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (400, 300), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def test_manifest_and_report():
    planned = [
        ("carcutter", {"vehicle_id": VINS[0], "name": "00-side-left", "source": "s3://b/a.jpg", "angle": "side-left"}),
        ("clippingmagic", {"vehicle_id": VINS[0], "name": "01-interior", "source": "s3://b/i.jpg"}),
        ("carcutter", {"vehicle_id": VINS[1], "name": "00-front", "source": "s3://b/f.jpg", "angle": "front"}),
    ]
    results = {
        ("carcutter", "s3://b/a.jpg"): {
            "source": "s3://b/a.jpg", "status": "final", "quality": "retake", "angle": ["exterior", "side-left"],
            "credits_total": 1, "outputs": {"result": "s3://b/processed/a.jpg"},
        },
        ("clippingmagic", "s3://b/i.jpg"): {
            "source": "s3://b/i.jpg", "status": "error", "credits_total": 0, "error": "Failed to read the image",
        },
    }  # fmt: skip
    rows = build_manifest(planned, results)
    assert [(r.vehicle_id, r.status) for r in rows] == [(VINS[0], "final"), (VINS[0], "error"), (VINS[1], "missing")]
    assert rows[0].angle == "exterior/side-left" and rows[0].result == "s3://b/processed/a.jpg"
    assert json.loads(manifest_json(rows)) == json.loads(manifest_json(build_manifest(planned, results)))
    frame = pd.read_parquet(io.BytesIO(manifest_parquet(rows)))
    assert list(frame["status"]) == ["final", "error", "missing"]

    summary = summarize(rows, credits_this_run=1, rejected_rows=1, sold_vehicles_deleted=0)
    assert summary.by_provider == {"carcutter": 2, "clippingmagic": 1} and summary.retakes == 1
    blobs = {"s3://b/a.jpg": png_bytes("red"), "s3://b/processed/a.jpg": png_bytes("blue")}
    rejected = [{"file": "x.csv", "line": 3, "reason": "vehicle_id: not a VIN"}]
    html = render_report("2026-11-01", summary, rows, rejected, blobs.__getitem__)
    assert "Failed to read the image" in html and "vehicle_id: not a VIN" in html
    assert html.count("data:image/jpeg;base64,") == 2  # before and after of the one finished image
    assert "Retake suggested (1)" in html
