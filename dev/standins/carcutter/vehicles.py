"""Vehicles, their features and image annotations, kept in memory, and the routes that manage them."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dev.standins import guesses
from dev.standins.carcutter import contract, paths
from dev.standins.carcutter.errors import CarCutterError, bad_input
from dev.standins.carcutter.forms import MULTIPART, QUERY, QUERY_IGNORING_BODY, Fields
from dev.standins.common.knobs import Knobs

VEHICLE_FIELDS = (
    "vehicle_manufacturer",
    "vehicle_model",
    "vehicle_model_ext",
    "vehicle_color",
    "vehicle_location",
    "vehicle_lot",
    "custom_reference",
    "suggested_guideline_id",
)
FEATURE_FIELDS = ("title", "description", "icon", "type", "feature_rule_name", "annotation_id", "detail_image_id")


class ListFilter(BaseModel):
    column: str
    values: list[Any]


class VehicleListRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    customer: str
    filters: list[ListFilter] = Field(default_factory=list)
    sort_by: str = "last_update"
    sort_direction: str = guesses.CC_VEHICLE_LIST_DEFAULT_DIRECTION
    limit: int | None = Field(default=None, ge=1)
    offset: int = Field(default=0, ge=0)


class Catalog:
    def __init__(self, seed: int):
        self.vehicles: dict[str, dict[str, Any]] = {}
        self.features: dict[str, dict[str, Any]] = {}
        self.annotations: dict[str, dict[str, Any]] = {}
        self.updates = itertools.count()
        self.last_update: dict[str, int] = {}
        self.random = random.Random(seed)

    def reset(self, seed: int) -> None:
        self.__init__(seed)

    def new_id(self, prefix: str) -> str:
        return f"{prefix}{self.random.getrandbits(64):016x}"

    def set_status(self, vehicle: dict[str, Any], status: str) -> None:
        vehicle["app_status"] = status
        vehicle["app_status_updated"] = datetime.now(UTC).strftime("%Y/%m/%d, %H:%M:%S")
        self.last_update[vehicle["vehicle_id"]] = next(self.updates)

    def vehicle(self, vehicle_id: str | None) -> dict[str, Any]:
        if not vehicle_id:
            raise bad_input("missing required parameter 'vehicle_id'")
        if vehicle_id not in self.vehicles:
            raise CarCutterError(404, guesses.CC_NO_SUCH_VEHICLE)
        return self.vehicles[vehicle_id]

    def mark_active(self, vehicle_id: str) -> None:
        """An async submission naming a vehicle takes it off the shotlist."""
        vehicle = self.vehicles.get(vehicle_id)
        if vehicle is not None and vehicle["app_status"] == "new":
            self.set_status(vehicle, "active")


def catalog_router(catalog: Catalog, knobs: Knobs) -> APIRouter:
    router = APIRouter()

    async def body_fields(request: Request) -> Fields:
        return await Fields.read(request, MULTIPART)

    async def query_fields(request: Request) -> Fields:
        return await Fields.read(request, QUERY)

    async def read_fields(request: Request, *names: str) -> Fields | None:
        """The feature and annotation GETs / DELETEs: documented as form fields (`--feature-params-in`). None
        when the service ignores bodies and the query has none of `names`: the route answers "nothing"."""
        fields = await Fields.read(request, contract.feature_fields_place(knobs))
        if knobs.feature_params_in == QUERY_IGNORING_BODY and fields.any_of(*names) is None:
            return None
        return fields

    @router.post(paths.VEHICLE_SUBMIT, name="vehicleSubmit")
    async def submit_vehicle(request: Request) -> dict[str, Any]:
        fields = await body_fields(request)
        vehicle_id = fields.text("vehicle_id", required=True)
        vehicle = catalog.vehicles.setdefault(vehicle_id, {"vehicle_id": vehicle_id, **dict.fromkeys(VEHICLE_FIELDS)})
        for name in VEHICLE_FIELDS:
            value = fields.text(name)
            if value is not None:
                vehicle[name] = value
        catalog.set_status(vehicle, "new")
        return {"vehicle": vehicle}

    @router.post(paths.VEHICLE_LIST, name="vehicleList")
    async def list_vehicles(request: Request) -> list[dict[str, Any]]:
        try:
            query = VehicleListRequest.model_validate_json(await request.body())
        except ValidationError as error:
            raise bad_input(f"invalid vehicle list request: {error.errors()[0]['msg']}") from None
        if query.sort_by != "last_update":
            raise bad_input("'sort_by' must be last_update")
        if query.sort_direction not in ("ASC", "DESC"):
            raise bad_input("'sort_direction' must be ASC or DESC")
        known_columns = ("vehicle_id", "app_status", "app_status_updated", *VEHICLE_FIELDS)
        for rule in query.filters:
            if rule.column not in known_columns:
                raise bad_input(f"unknown filter column '{rule.column}'")
        vehicles = [
            vehicle
            for vehicle in catalog.vehicles.values()
            if all(str(vehicle.get(rule.column)) in {str(value) for value in rule.values} for rule in query.filters)
        ]
        vehicles.sort(key=lambda v: catalog.last_update[v["vehicle_id"]], reverse=query.sort_direction == "DESC")
        end = None if query.limit is None else query.offset + query.limit
        return vehicles[query.offset : end]

    @router.get(paths.VEHICLE_STATUS, name="vehicleStatus")
    async def vehicle_status(request: Request) -> dict[str, Any]:
        fields = await query_fields(request)
        return {"vehicle": catalog.vehicle(fields.text("vehicle_id", required=True))}

    @router.delete(paths.VEHICLE_DELETE, name="vehicleDelete")
    async def delete_vehicle(request: Request) -> dict[str, Any]:
        fields = await query_fields(request)
        vehicle = catalog.vehicle(fields.text("vehicle_id", required=True))
        catalog.set_status(vehicle, "deleted")
        return {"vehicle": vehicle}

    @router.get(paths.VEHICLE_SHOTLIST, name="vehicleShotlist")
    async def shotlist() -> dict[str, Any]:
        return {"vehicles": [v for v in catalog.vehicles.values() if v["app_status"] == "new"]}

    @router.post(paths.FEATURE_SUBMIT, name="featureSubmit")
    async def submit_feature(request: Request) -> dict[str, str]:
        fields = await body_fields(request)
        feature = {"vehicle_id": fields.text("vehicle_id", required=True)}
        for name in FEATURE_FIELDS:
            feature[name] = fields.text(name, required=name in ("title", "icon", "type"))
        feature["feature_id"] = catalog.new_id(guesses.CC_FEATURE_ID_PREFIX)
        catalog.features[feature["feature_id"]] = feature
        return {"feature_id": feature["feature_id"]}

    @router.get(paths.FEATURES_GET, name="featuresGet")
    async def vehicle_features(request: Request) -> dict[str, Any]:
        fields = await read_fields(request, "vehicle_id")
        if fields is None:
            return {"features": []}
        vehicle_id = fields.text("vehicle_id", required=True)
        return {"features": [f for f in catalog.features.values() if f["vehicle_id"] == vehicle_id]}

    @router.get(paths.FEATURE_GET, name="featureGet")
    async def one_feature(request: Request) -> dict[str, Any]:
        fields = await read_fields(request, "feature_id")
        return {"features": [] if fields is None else [_feature(catalog, fields)]}

    @router.delete(paths.FEATURES_DELETE, name="featuresDelete")
    async def delete_vehicle_features(request: Request) -> dict[str, Any]:
        fields = await read_fields(request, "vehicle_id")
        if fields is None:
            return {"deleted_features": []}
        vehicle_id = fields.text("vehicle_id", required=True)
        deleted = [fid for fid, f in catalog.features.items() if f["vehicle_id"] == vehicle_id]
        for feature_id in deleted:
            del catalog.features[feature_id]
        return {"deleted_features": deleted}

    @router.delete(paths.FEATURE_DELETE, name="featureDelete")
    async def delete_one_feature(request: Request) -> dict[str, Any]:
        fields = await read_fields(request, "feature_id")
        if fields is None:
            return {"deleted_features": []}
        feature = _feature(catalog, fields)
        del catalog.features[feature["feature_id"]]
        return {"deleted_features": [feature["feature_id"]]}

    @router.post(paths.ANNOTATION_SUBMIT, name="annotationSubmit")
    async def submit_annotation(request: Request) -> dict[str, str]:
        fields = await body_fields(request)
        annotation = {
            "image_id": fields.text("image_id", required=True),
            "position_x": fields.integer("position_x", required=True),
            "position_y": fields.integer("position_y", required=True),
            "location": fields.text("location"),
            "annotation_id": catalog.new_id(guesses.CC_ANNOTATION_ID_PREFIX),
        }
        catalog.annotations[annotation["annotation_id"]] = annotation
        return {"annotation_id": annotation["annotation_id"]}

    @router.get(paths.ANNOTATIONS_GET, name="annotationsGet")
    async def image_annotations(request: Request) -> dict[str, Any]:
        fields = await read_fields(request, "vehicle_id", "image_id")
        if fields is None:
            return {"annotations": []}
        image_id = fields.any_of("vehicle_id", "image_id", required=True)
        return {"annotations": [a for a in catalog.annotations.values() if a["image_id"] == image_id]}

    @router.get(paths.ANNOTATION_GET, name="annotationGet")
    async def one_annotation(request: Request) -> dict[str, Any]:
        fields = await read_fields(request, "annotation_id")
        if fields is None:
            return {key: [] for key in guesses.CC_ANNOTATION_GET_KEYS}
        annotation = _annotation(catalog, fields)
        return {key: [annotation] for key in guesses.CC_ANNOTATION_GET_KEYS}

    @router.delete(paths.ANNOTATIONS_DELETE, name="annotationsDelete")
    async def delete_image_annotations(request: Request) -> dict[str, Any]:
        fields = await read_fields(request, "vehicle_id", "image_id")
        if fields is None:
            return {"deleted_annotations": []}
        image_id = fields.any_of("vehicle_id", "image_id", required=True)
        deleted = [aid for aid, a in catalog.annotations.items() if a["image_id"] == image_id]
        for annotation_id in deleted:
            del catalog.annotations[annotation_id]
        return {"deleted_annotations": deleted}

    @router.delete(paths.ANNOTATION_DELETE, name="annotationDelete")
    async def delete_one_annotation(request: Request) -> dict[str, Any]:
        fields = await read_fields(request, "annotation_id")
        if fields is None:
            return {"deleted_annotations": []}
        annotation = _annotation(catalog, fields)
        del catalog.annotations[annotation["annotation_id"]]
        return {"deleted_annotations": [annotation["annotation_id"]]}

    return router


def _feature(catalog: Catalog, fields: Fields) -> dict[str, Any]:
    feature = catalog.features.get(fields.text("feature_id", required=True))
    if feature is None:
        raise CarCutterError(404, guesses.CC_NO_SUCH_FEATURE)
    return feature


def _annotation(catalog: Catalog, fields: Fields) -> dict[str, Any]:
    annotation = catalog.annotations.get(fields.text("annotation_id", required=True))
    if annotation is None:
        raise CarCutterError(404, guesses.CC_NO_SUCH_ANNOTATION)
    return annotation
