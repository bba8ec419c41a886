"""Generating a whole sample data set: photos, masks and listing files, optionally uploaded to S3."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dev.sampledata.dealers import sample_config_files
from dev.sampledata.listings import (
    COLOURS,
    bad_rows,
    hotspots_for,
    image_ref,
    listing_row,
    plan_vehicle,
)
from dev.sampledata.photos import NON_EXTERIOR_ANGLES, PhotoSpec, photo_size, render_photo
from dev.sampledata.writers import LISTING_WRITERS, jpeg_bytes, png_bytes, write_file

FORMATS = ("csv", "jsonl", "parquet")
DEFAULT_BUCKET = "vehicle-photos"


@dataclass(frozen=True)
class GeneratedPhoto:
    vehicle_id: str
    angle: str
    background: str
    key: str  # photos/<vehicle_id>/<n>_<angle>.jpg, also its path under the output directory
    mask_path: Path
    path: Path


@dataclass(frozen=True)
class InjectedRow:
    file: Path
    reason: str
    row: dict


@dataclass
class SampleData:
    out_dir: Path
    rows: list[dict]  # valid rows, in vehicle order
    listing_files: dict[str, Path]  # format -> path
    photos: list[GeneratedPhoto] = field(default_factory=list)
    injected: list[InjectedRow] = field(default_factory=list)
    config_files: dict[str, bytes] = field(default_factory=dict)  # S3 key -> bytes (the dealers' profiles)


def generate(
    out_dir: str | Path,
    *,
    seed: int = 7,
    vehicles: int = 3,
    images_per_vehicle: int = 4,
    megapixels: float = 0.5,
    bucket: str = DEFAULT_BUCKET,
    http_base_url: str | None = None,
    formats: tuple[str, ...] = FORMATS,
    inject_bad_rows: bool = False,
    dealers: tuple[str, ...] = (),
) -> SampleData:
    """Write photos/, masks/ and listings/vehicles.<format> under `out_dir`; same arguments, same bytes.

    Vehicles are dealt to the listing formats in turn (vehicle i goes to formats[i % len(formats)]), so all
    files of one run together hold every vehicle exactly once. Injected bad rows are appended the same way.
    With `dealers`, vehicle i belongs to dealers[i % len(dealers)] (`dealer_id` column), and the sample dealers'
    profiles file comes along (`dev.sampledata.dealers`).
    """
    if vehicles < 1 or images_per_vehicle < 1 or megapixels <= 0:
        raise ValueError("vehicles and images_per_vehicle must be >= 1 and megapixels > 0")
    unknown = set(formats) - set(LISTING_WRITERS)
    if unknown or not formats:
        raise ValueError(f"formats must be some of {sorted(LISTING_WRITERS)}, got {formats}")
    out = Path(out_dir)
    http_base = http_base_url or f"http://127.0.0.1:5000/{bucket}"  # moto server default port, path style
    width, height = photo_size(megapixels)
    sample = SampleData(out, rows=[], listing_files={})
    rows_by_format: dict[str, list[dict]] = {name: [] for name in formats}

    for vehicle_index in range(vehicles):
        vehicle = plan_vehicle(np.random.default_rng([seed, vehicle_index]), vehicle_index, images_per_vehicle)
        titles = {feature["title"] for feature in vehicle.features}
        refs, hotspots = [], []
        for image in vehicle.images:
            spec = PhotoSpec(
                image.angle,
                image.background,
                vehicle.body,
                COLOURS[vehicle.colour],
                image.close_background,
                width,
                height,
            )
            photo = render_photo(spec, np.random.default_rng([seed, vehicle_index, image.index]))
            path = write_file(out / image.key, jpeg_bytes(photo.image))
            mask_path = write_file(
                out / "masks" / image.key.removeprefix("photos/").replace(".jpg", ".png"), png_bytes(photo.mask)
            )
            sample.photos.append(
                GeneratedPhoto(vehicle.vehicle_id, image.angle, image.background, image.key, mask_path, path)
            )
            refs.append(image_ref(image, vehicle_index, bucket, http_base))
            if image.angle not in NON_EXTERIOR_ANGLES or image.angle == "detail":
                hotspots.extend(hotspots_for(image.index, photo.parts, titles, limit=1))
        row = listing_row(vehicle, refs, hotspots[:3])
        if dealers:
            row["dealer_id"] = dealers[vehicle_index % len(dealers)]
        sample.rows.append(row)
        rows_by_format[formats[vehicle_index % len(formats)]].append(row)

    injected = bad_rows(sample.rows) if inject_bad_rows else []
    for position, (_reason, row) in enumerate(injected):
        rows_by_format[formats[position % len(formats)]].append(row)

    for name, rows in rows_by_format.items():
        path = write_file(out / "listings" / f"vehicles.{name}", LISTING_WRITERS[name](rows))
        sample.listing_files[name] = path
    for position, (reason, row) in enumerate(injected):
        sample.injected.append(InjectedRow(sample.listing_files[formats[position % len(formats)]], reason, row))
    if dealers:
        sample.config_files = sample_config_files()
    return sample


def upload(sample: SampleData, *, bucket: str, listing_date: str, endpoint_url: str | None = None) -> list[str]:
    """Put photos under photos/ and listing files under listings/dt=<listing_date>/; returns the keys written."""
    import boto3

    client = boto3.client("s3", endpoint_url=endpoint_url)
    keys = []
    for photo in sample.photos:
        # public-read: listings also reference photos by plain http URL, as a dealer's CDN would serve them
        client.upload_file(
            str(photo.path), bucket, photo.key, ExtraArgs={"ContentType": "image/jpeg", "ACL": "public-read"}
        )
        keys.append(photo.key)
    for key, body in sample.config_files.items():
        client.put_object(Bucket=bucket, Key=key, Body=body)
        keys.append(key)
    for path in sample.listing_files.values():
        key = f"listings/dt={listing_date}/{path.name}"
        client.upload_file(str(path), bucket, key)
        keys.append(key)
    return keys
