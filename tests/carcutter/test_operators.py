"""Vehicle, features, annotations and synchronous operators, and the status sensor, against the stand-in."""

from __future__ import annotations

import asyncio

import pytest
from airflow.sdk.exceptions import AirflowFailException, TaskDeferred

from tests.carcutter.conftest import CONN_ID, counts, presign
from vehicle_photos.carcutter.hooks.carcutter import CarCutterHook
from vehicle_photos.carcutter.operators.annotations import CarCutterSetAnnotationsOperator
from vehicle_photos.carcutter.operators.features import CarCutterSetFeaturesOperator
from vehicle_photos.carcutter.operators.features_and_annotations import CarCutterSetFeaturesAndAnnotationsOperator
from vehicle_photos.carcutter.operators.process_images import CarCutterProcessImagesOperator
from vehicle_photos.carcutter.operators.single_segment import CarCutterSingleSegmentOperator
from vehicle_photos.carcutter.operators.vehicles import (
    CarCutterDeleteVehiclesOperator,
    CarCutterRegisterVehiclesOperator,
)
from vehicle_photos.carcutter.sensors.image_status import CarCutterImageStatusSensor

FEATURES = [
    {"title": "Navigation", "icon": "nav", "type": "text", "description": "Built-in navigation"},
    {"title": "Towbar", "icon": "tow", "type": "text"},
]
VEHICLES = [
    {"vehicle_id": "VIN0000000000000A", "vehicle_manufacturer": "VW", "vehicle_model": "Golf", "make": "ignored"},
    {"vehicle_id": "VIN0000000000000B", "vehicle_manufacturer": "Audi", "vehicle_color": "red"},
]


def writes(server) -> dict[str, int]:
    current = counts(server)
    names = ("vehicleSubmit", "featureSubmit", "featureDelete", "annotationSubmit", "annotationDelete")
    return {name: current.get(name, 0) for name in names}


def test_register_vehicles_changes_nothing_when_nothing_changed(carcutter):
    first = CarCutterRegisterVehiclesOperator(task_id="r", vehicles=VEHICLES, carcutter_conn_id=CONN_ID).execute({})
    assert sorted(first["created"]) == ["VIN0000000000000A", "VIN0000000000000B"]
    before = writes(carcutter)
    again = CarCutterRegisterVehiclesOperator(task_id="r", vehicles=VEHICLES, carcutter_conn_id=CONN_ID).execute({})
    assert sorted(again["unchanged"]) == ["VIN0000000000000A", "VIN0000000000000B"]
    assert writes(carcutter) == before
    changed = [{**VEHICLES[0], "vehicle_color": "blue"}]
    result = CarCutterRegisterVehiclesOperator(task_id="r", vehicles=changed, carcutter_conn_id=CONN_ID).execute({})
    assert result["updated"] == ["VIN0000000000000A"]
    assert CarCutterHook(CONN_ID).get_vehicle("VIN0000000000000A")["vehicle_color"] == "blue"


def test_features_sync_creates_deletes_and_is_idempotent(carcutter):
    hook = CarCutterHook(CONN_ID)
    stale = hook.submit_feature("VIN1", title="Sunroof", icon="sun", type="text")
    duplicate = hook.submit_feature("VIN1", **FEATURES[1])
    hook.submit_feature("VIN1", **FEATURES[1])
    desired = [{"vehicle_id": "VIN1", "features": FEATURES}, {"vehicle_id": "VIN2", "features": FEATURES[:1]}]

    result = CarCutterSetFeaturesOperator(task_id="f", vehicles=desired, carcutter_conn_id=CONN_ID).execute({})
    assert result == {"created": 2, "deleted": 2, "unchanged": 1}
    titles = sorted(f["title"] for f in hook.get_features("VIN1"))
    assert titles == ["Navigation", "Towbar"]
    remaining_ids = {f["feature_id"] for f in hook.get_features("VIN1")}
    assert stale not in remaining_ids
    assert duplicate in remaining_ids  # the first of two equal features is kept

    before = writes(carcutter)
    again = CarCutterSetFeaturesOperator(task_id="f", vehicles=desired, carcutter_conn_id=CONN_ID).execute({})
    assert again == {"created": 0, "deleted": 0, "unchanged": 3}
    assert writes(carcutter) == before


def test_annotations_sync_creates_deletes_and_is_idempotent(carcutter):
    hook = CarCutterHook(CONN_ID)
    hook.submit_annotation("img-1", 1, 1, location="old")
    hook.submit_annotation("img-3", 9, 9)
    desired = [
        {"image_id": "img-1", "annotations": [{"x": 120, "y": 80, "location": "wheel"}, {"x": 5, "y": 6}]},
        {"image_id": "img-2", "annotations": [{"position_x": 40, "position_y": 30, "location": "mirror"}]},
        {"image_id": "img-3", "annotations": []},
    ]
    result = CarCutterSetAnnotationsOperator(task_id="a", images=desired, carcutter_conn_id=CONN_ID).execute({})
    assert result == {"created": 3, "deleted": 2, "unchanged": 0}
    assert sorted((a["position_x"], a["location"]) for a in hook.get_annotations("img-1")) == [
        (5, None),
        (120, "wheel"),
    ]
    assert hook.get_annotations("img-3") == []

    before = writes(carcutter)
    again = CarCutterSetAnnotationsOperator(task_id="a", images=desired, carcutter_conn_id=CONN_ID).execute({})
    assert again == {"created": 0, "deleted": 0, "unchanged": 3}
    assert writes(carcutter) == before


def test_features_and_annotations_in_one_task(carcutter):
    hook = CarCutterHook(CONN_ID)
    stale = hook.submit_feature("VIN1", title="Sunroof", icon="sun", type="text")
    hook.submit_annotation("img-1", 1, 1, location="old")
    vehicles = [{"vehicle_id": "VIN1", "features": FEATURES}, {"vehicle_id": "VIN2", "features": []}]
    images = [{"image_id": "img-1", "annotations": [{"x": 120, "y": 80, "location": "wheel"}]}]

    task = CarCutterSetFeaturesAndAnnotationsOperator(task_id="fa", vehicles=vehicles, images=images,
                                                      carcutter_conn_id=CONN_ID)  # fmt: skip
    assert task.execute({}) == {
        "features": {"created": 2, "deleted": 1, "unchanged": 0},
        "annotations": {"created": 1, "deleted": 1, "unchanged": 0},
    }
    assert sorted(f["title"] for f in hook.get_features("VIN1")) == ["Navigation", "Towbar"]
    assert stale not in {f["feature_id"] for f in hook.get_features("VIN1")}
    assert [(a["position_x"], a["location"]) for a in hook.get_annotations("img-1")] == [(120, "wheel")]

    before = writes(carcutter)
    assert task.execute({}) == {
        "features": {"created": 0, "deleted": 0, "unchanged": 2},
        "annotations": {"created": 0, "deleted": 0, "unchanged": 1},
    }
    assert writes(carcutter) == before
    nothing = CarCutterSetFeaturesAndAnnotationsOperator(task_id="none", carcutter_conn_id=CONN_ID).execute({})
    assert nothing == {name: {"created": 0, "deleted": 0, "unchanged": 0} for name in ("features", "annotations")}
    assert writes(carcutter) == before


def test_delete_vehicles_with_features_and_annotations(carcutter):
    hook = CarCutterHook(CONN_ID)
    hook.submit_vehicle("VIN1")
    hook.submit_feature("VIN1", **FEATURES[0])
    hook.submit_annotation("img-1", 3, 4)
    gone = [{"vehicle_id": "VIN1", "image_ids": ["img-1"]}, "NEVER-REGISTERED"]
    result = CarCutterDeleteVehiclesOperator(task_id="d", vehicles=gone, carcutter_conn_id=CONN_ID).execute({})
    assert result == {"deleted": ["VIN1"], "not_found": ["NEVER-REGISTERED"]}
    assert hook.get_vehicle("VIN1")["app_status"] == "deleted"
    assert hook.get_features("VIN1") == []
    assert hook.get_annotations("img-1") == []


def test_sync_process_stores_the_result_once(carcutter, bucket, s3_client, put_photos):
    (image,) = put_photos(per_vehicle=1)
    task = CarCutterSingleSegmentOperator(
        task_id="s", source=image["source"], vehicle_id=image["vehicle_id"], dest_bucket=bucket,
        cut_type="complete", options={"resolution": "160x120", "padding_x": 0.1}, carcutter_conn_id=CONN_ID,
    )  # fmt: skip
    first = task.execute({})
    key = first["outputs"]["result"].removeprefix(f"s3://{bucket}/")
    assert key.startswith(f"processed/{image['vehicle_id']}/carcutter/0_side-left-")
    assert s3_client.head_object(Bucket=bucket, Key=key)["ContentLength"] > 0
    again = task.execute({})
    assert again == {**first, "reused": True}
    assert counts(carcutter)["syncSubmit"] == 1
    assert sum(carcutter.ledger()["charges"].values()) == 1


def test_status_sensor_pokes_and_defers(carcutter, s3_client, put_photos):
    urls = [presign(s3_client, image["source"]) for image in put_photos(per_vehicle=2)]
    CarCutterHook(CONN_ID).submit_images(urls)
    sensor = CarCutterImageStatusSensor(
        task_id="wait", image_urls=urls, carcutter_conn_id=CONN_ID, poke_interval=0.1, timeout=20, deferrable=True
    )
    assert not sensor.poke({}).is_done
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute({})

    async def first_event() -> dict:
        async for event in deferred.value.trigger.run():
            return event.payload
        raise AssertionError("no event")

    rows = sensor.execute_complete({}, event=asyncio.run(first_event()))
    assert [row["status"] for row in rows] == ["final", "final"]
    assert all("?" not in row["image"] or row["image"].endswith("?…") for row in rows)
    assert sensor.poke({}).is_done


def test_a_sync_call_that_may_have_been_billed_is_never_repeated(carcutter, bucket, s3_client, put_photos):
    carcutter.configure(sync_error_after_processing_ratio=1.0)  # processed and billed, then a 500
    (image,) = put_photos(per_vehicle=1)
    task = CarCutterSingleSegmentOperator(
        task_id="s", source=image["source"], vehicle_id=image["vehicle_id"], dest_bucket=bucket,
        cut_type="complete", carcutter_conn_id=CONN_ID,
    )  # fmt: skip
    with pytest.raises(AirflowFailException, match="may have been billed"):
        task.execute({})
    carcutter.configure(sync_error_after_processing_ratio=0.0)
    with pytest.raises(AirflowFailException, match="already claimed"):
        task.execute({})  # a retry does not call again: the outcome of the first call is unknown
    assert counts(carcutter)["syncSubmit"] == 1
    assert sum(carcutter.ledger()["charges"].values()) == 1


def test_calls_that_return_images_accept_images(carcutter, bucket, put_photos):
    carcutter.configure(strict_accept=True)  # a server that answers 406 to "Accept: application/json" on images
    images = put_photos(per_vehicle=2)
    batch = CarCutterProcessImagesOperator(
        task_id="p", images=images, dest_bucket=bucket, cut_type="complete", carcutter_conn_id=CONN_ID,
        poll_interval=0.1, first_poll_delay=0.3, timeout=30, deferrable=False,  # waits in the task: no triggerer here
    ).execute({})  # fmt: skip
    assert [row["status"] for row in batch] == ["final", "final"]
    single = CarCutterSingleSegmentOperator(
        task_id="s", source=images[0]["source"], vehicle_id="WVWZZZ1JZ3W777777", dest_bucket=bucket,
        cut_type="blur", carcutter_conn_id=CONN_ID,
    )  # fmt: skip
    assert single.execute({})["outputs"]["result"]
