"""Dealer profiles through the real DAG (`airflow dags test`) on the local stack: three dealers with their own
look, a fourth whose profile is invalid, a budget that stops billing at its cap, and a changed profile that
re-processes that dealer alone, only once a run confirms it."""

from __future__ import annotations

import hashlib
import io
import json

import pytest
import yaml
from PIL import Image

from dev.sampledata import generate, upload
from tests.dag_runs import dags_test

DS = "2026-11-03"
DEALERS = {"northside": 2, "eastgate": 2, "westend": 1, "badco": 1}  # vehicles each, in the sample's order
IN_FOLDERS = ("northside", "eastgate")  # the others name their dealer in the dealer_id column


def png(size: tuple[int, int], box: tuple[int, int, int, int], colour: tuple[int, int, int, int]) -> bytes:
    image = Image.new("RGBA", size, (0, 0, 0, 0))
    image.paste(Image.new("RGBA", (box[2] - box[0], box[3] - box[1]), colour), box[:2])
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


LOGO = png((200, 150), (170, 130, 200, 150), (250, 200, 0, 255))  # a small yellow mark bottom right
PLATE = png((120, 30), (0, 0, 120, 30), (255, 255, 255, 255))


def profiles(northside: dict, badco_overlay: str, westend_background: str = "#808080") -> bytes:
    return yaml.safe_dump({
        "default": {"carcutter": {"cut_type": "complete"}},
        "dealers": {
            "northside": {"carcutter": {"overlay": "config/northside/logo.png", **northside}},
            "eastgate": {"carcutter": {"license_plate": "config/eastgate/plate.png"}, "max_credits_per_run": 2},
            "westend": {
                "carcutter": {"retouching_accuracy": "precise"},
                "clippingmagic": {"composite": {"background_colour": westend_background, "aspect": "4:3"}},
            },
            "badco": {"carcutter": {"overlay": badco_overlay}},  # a JPEG: Car-Cutter needs a PNG with alpha
        },
    }).encode()  # fmt: skip


def read_json(s3_client, bucket: str, key: str):
    return json.loads(s3_client.get_object(Bucket=bucket, Key=key)["Body"].read())


def run_dag(bucket: str, log, **params: object) -> int:
    return dags_test("vehicle_listings", DS, log, params, AIRFLOW_VAR_VEHICLE_PHOTOS_BUCKET=bucket)


@pytest.fixture
def dealers_sample(tmp_path, local_stack, bucket, s3_client):
    """The sample's vehicles dealt to the dealers; images routed by the profiles' angles (no provider given)."""
    data = generate(
        tmp_path / "sample", seed=5, vehicles=sum(DEALERS.values()), images_per_vehicle=3, megapixels=0.15,
        bucket=bucket, http_base_url=f"{local_stack.s3_url}/{bucket}", formats=("jsonl",),
    )  # fmt: skip
    data.listing_files = {}
    upload(data, bucket=bucket, listing_date=DS, endpoint_url=local_stack.s3_url)
    rows = iter(data.rows)
    by_dealer = {dealer: [next(rows) for _ in range(count)] for dealer, count in DEALERS.items()}
    for dealer, dealer_rows in by_dealer.items():
        for row in dealer_rows:
            row["images"] = [
                {key: value for key, value in image.items() if key != "provider"} for image in row["images"]
            ]
            if dealer not in IN_FOLDERS:
                row["dealer_id"] = dealer
        key = (
            f"listings/dt={DS}/dealer={dealer}/stock.jsonl"
            if dealer in IN_FOLDERS
            else f"listings/dt={DS}/{dealer}.jsonl"
        )
        body = "".join(json.dumps(row) + "\n" for row in dealer_rows)
        s3_client.put_object(Bucket=bucket, Key=key, Body=body.encode())
    s3_client.put_object(Bucket=bucket, Key="config/northside/logo.png", Body=LOGO)
    s3_client.put_object(Bucket=bucket, Key="config/eastgate/plate.png", Body=PLATE)
    jpeg = data.photos[0].key
    s3_client.put_object(Bucket=bucket, Key="config/profiles.yaml", Body=profiles({"scene_id": "night-blue"}, jpeg))
    return {dealer: {row["vehicle_id"] for row in dealer_rows} for dealer, dealer_rows in by_dealer.items()}, jpeg


def charges(server) -> int:
    return sum(server.ledger()["charges"].values())


def test_each_dealer_gets_its_own_options_budget_and_confirmation(
    airflow_home, dealers_sample, bucket, s3_client, carcutter_server, clippingmagic_server, tmp_path
):
    vehicles, badco_overlay = dealers_sample
    dealer_of = {vehicle: dealer for dealer, ids in vehicles.items() for vehicle in ids}

    run_dag(bucket, tmp_path / "run-1.log")
    manifest = read_json(s3_client, bucket, f"manifests/dt={DS}/manifest.json")
    assert {row["dealer_id"] for row in manifest} == {"northside", "eastgate", "westend"}
    assert all(dealer_of[row["vehicle_id"]] == row["dealer_id"] for row in manifest)
    carcutter_rows = {d: [r for r in manifest if r["dealer_id"] == d and r["provider"] == "carcutter"] for d in DEALERS}
    # interior and detail shots go to Clipping Magic (the default profile's angles), the rest to Car-Cutter
    assert all(row["angle"] not in ("interior", "detail") for rows in carcutter_rows.values() for row in rows)

    # badco's profile names a JPEG overlay: its row is rejected with the dealer and the field, nothing billed
    rejected = [json.loads(line) for line in s3_client.get_object(
        Bucket=bucket, Key=f"rejected/dt={DS}/rejected.jsonl")["Body"].read().decode().splitlines()]  # fmt: skip
    assert len(rejected) == 1 and "badco" in rejected[0]["reason"] and "carcutter.overlay" in rejected[0]["reason"]
    assert "PNG" in rejected[0]["reason"]

    # eastgate's budget: 2 Car-Cutter credits per run; the rest waits, the run succeeds
    eastgate = carcutter_rows["eastgate"]
    assert sorted(row["status"] for row in eastgate) == ["deferred", "deferred", "final", "final"]
    assert all("budget" in row["error"] for row in eastgate if row["status"] == "deferred")

    # each dealer's options in the requests Car-Cutter received, and in its results
    submissions = carcutter_server.requests()["submissions"]
    by_dealer = {d: [s for s in submissions if dealer_of.get(s.get("vehicle_id")) == d] for d in DEALERS}
    assert by_dealer["badco"] == []
    assert {s.get("scene_id") for s in by_dealer["northside"]} == {"night-blue"}
    assert {s.get("overlay_sha256") for s in by_dealer["northside"]} == {hashlib.sha256(LOGO).hexdigest()}
    assert {s.get("license_plate_sha256") for s in by_dealer["eastgate"]} == {hashlib.sha256(PLATE).hexdigest()}
    assert {s.get("retouching_accuracy") for s in by_dealer["westend"]} == {"precise"}
    assert all("scene_id" not in s and "overlay_sha256" not in s for s in by_dealer["eastgate"])
    northside_result = result_image(s3_client, carcutter_rows["northside"][0]["result"])
    eastgate_result = result_image(s3_client, next(r for r in eastgate if r["status"] == "final")["result"])
    assert max(northside_result.getpixel((2, 2))) < 100  # the night-blue scene
    assert min(eastgate_result.getpixel((2, 2))) > 180  # the studio backdrop
    corner = northside_result.getpixel((northside_result.width - 3, northside_result.height - 3))
    assert corner[0] > 200 and corner[1] > 150 and corner[2] < 80  # the logo's yellow mark

    # the records' credits agree with the ledgers, and the report has a line and a page per dealer
    assert sum(r["credits_charged"] for r in manifest if r["provider"] == "carcutter") == charges(carcutter_server)
    assert sum(r["credits_charged"] for r in manifest if r["provider"] == "clippingmagic") == charges(
        clippingmagic_server)  # fmt: skip
    report = s3_client.get_object(Bucket=bucket, Key=f"reports/dt={DS}/report.html")["Body"].read().decode()
    assert "Dealers (4)" in report and 'href="dealers/eastgate.html"' in report
    page = s3_client.get_object(Bucket=bucket, Key=f"reports/dt={DS}/dealers/eastgate.html")["Body"].read().decode()
    assert "dealer eastgate" in page and "budget" in page and "northside" not in page

    # westend's interior shots composited on grey at 4:3, locally; nobody else's
    westend_clips = [r for r in manifest if r["dealer_id"] == "westend" and r["provider"] == "clippingmagic"]
    assert westend_clips and all(r["composite"] for r in westend_clips)
    assert all(r["composite"] is None for r in manifest if r["dealer_id"] != "westend")
    composite = result_image(s3_client, westend_clips[0]["composite"])
    assert abs(composite.width * 3 - composite.height * 4) <= 4 and composite.getpixel((1, 1)) == (128, 128, 128)
    clip_charges = charges(clippingmagic_server)

    # northside changes its scene (above its confirmation threshold: it waits), westend its composite's colour
    changed = profiles({"scene_id": "showroom-grey"}, badco_overlay, westend_background="#404040")
    s3_client.put_object(Bucket=bucket, Key="config/profiles.yaml", Body=changed)
    before = charges(carcutter_server)
    run_dag(bucket, tmp_path / "run-2.log", confirm_above_credits=1)
    log_lines = (tmp_path / "run-2.log").read_text().splitlines()
    estimate = next(line for line in log_lines if line.lstrip().startswith("northside ") or " northside " in line)
    assert "awaiting confirmation" in estimate  # the plan's table of dealers: estimate, this run, cap, state
    manifest = read_json(s3_client, bucket, f"manifests/dt={DS}/manifest.json")
    northside = [r for r in manifest if r["dealer_id"] == "northside" and r["provider"] == "carcutter"]
    assert {row["status"] for row in northside} == {"awaiting_confirmation"}
    assert "confirm_dealers [northside]" in northside[0]["error"]
    assert charges(carcutter_server) == before + 2  # eastgate's two left from the first run, nothing else
    assert {r["status"] for r in manifest if r["dealer_id"] == "eastgate" and r["provider"] == "carcutter"} == {"final"}
    recomposited = [r for r in manifest if r["dealer_id"] == "westend" and r["provider"] == "clippingmagic"]
    assert recomposited[0]["composite"] != westend_clips[0]["composite"]  # a new composite, and no new credit
    assert result_image(s3_client, recomposited[0]["composite"]).getpixel((1, 1)) == (64, 64, 64)
    assert charges(clippingmagic_server) == clip_charges
    # an interior shot may cost 3 Clipping Magic credits (result, SVG, mask): over eastgate's cap of 2, it waits
    eastgate_clips = [r for r in manifest if r["dealer_id"] == "eastgate" and r["provider"] == "clippingmagic"]
    assert {r["status"] for r in eastgate_clips} == {"deferred"} and "may cost 3" in eastgate_clips[0]["error"]

    # confirmed: exactly northside's Car-Cutter images are processed again, with the new scene
    before = charges(carcutter_server)
    run_dag(bucket, tmp_path / "run-3.log", confirm_above_credits=1, confirm_dealers=["northside"])
    manifest = read_json(s3_client, bucket, f"manifests/dt={DS}/manifest.json")
    northside = [r for r in manifest if r["dealer_id"] == "northside" and r["provider"] == "carcutter"]
    assert {row["status"] for row in northside} == {"final"}
    assert charges(carcutter_server) == before + len(northside)
    assert max(result_image(s3_client, northside[0]["result"]).getpixel((2, 2))) > 100  # showroom grey now
    submissions = carcutter_server.requests()["submissions"]
    assert {s.get("scene_id") for s in submissions if dealer_of.get(s.get("vehicle_id")) == "northside"} == {
        "night-blue", "showroom-grey"}  # fmt: skip

    assert recorded_credits(s3_client, bucket, "carcutter") == charges(carcutter_server)
    assert recorded_credits(s3_client, bucket, "clippingmagic") == charges(clippingmagic_server)


def recorded_credits(s3_client, bucket: str, provider: str) -> int:
    """The credits every record of the provider says it cost (`records/<provider>/<digest>.json`)."""
    total = 0
    for page in s3_client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"records/{provider}/"):
        for item in page.get("Contents", []):
            if item["Key"].endswith(".json"):
                total += read_json(s3_client, bucket, item["Key"]).get("credits_charged", 0)
    return total


def result_image(s3_client, uri: str) -> Image.Image:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    return Image.open(io.BytesIO(s3_client.get_object(Bucket=bucket, Key=key)["Body"].read())).convert("RGB")
