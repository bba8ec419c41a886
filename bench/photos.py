"""Benchmark photos and listings.

Rendering thousands of distinct 2 MP photos would take longer than the benchmark, so a pool of distinct
photos is rendered once (cached under `bench/work/`) and put under a distinct key per vehicle and image:
each key is its own image identity (key + ETag), so each is processed and billed on its own.
"""

from __future__ import annotations

import io
import json
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dev.sampledata import generate
from dev.sampledata.vin import make_vin

WORK_DIR = Path(__file__).resolve().parent / "work"
POOL_SEED = 11
POOL_VEHICLES = 2
IMAGES_PER_VEHICLE = 24
MEGAPIXELS = 2.0


@dataclass(frozen=True)
class PoolPhoto:
    angle: str
    body: bytes


def photo_pool() -> list[PoolPhoto]:
    """48 distinct ~2 MP JPEGs, rendered on first use and then read from `bench/work/pool-*`."""
    out = WORK_DIR / f"pool-{POOL_SEED}-{POOL_VEHICLES}x{IMAGES_PER_VEHICLE}-{MEGAPIXELS}mp"
    index = out / "pool.json"
    if not index.exists():
        print(f"rendering {POOL_VEHICLES * IMAGES_PER_VEHICLE} photos of {MEGAPIXELS} MP once into {out} ...")
        sample = generate(
            out, seed=POOL_SEED, vehicles=POOL_VEHICLES, images_per_vehicle=IMAGES_PER_VEHICLE,
            megapixels=MEGAPIXELS, formats=("jsonl",),
        )  # fmt: skip
        index.write_text(json.dumps([{"path": str(p.path.relative_to(out)), "angle": p.angle} for p in sample.photos]))
    return [PoolPhoto(entry["angle"], (out / entry["path"]).read_bytes()) for entry in json.loads(index.read_text())]


def downscaled(pool: list[PoolPhoto], megapixels: float) -> list[PoolPhoto]:
    """The same photos at `megapixels`, for the 50,000-image case: moto keeps every object in memory, and
    50,000 photos of 2 MP (about 330 KB each) would take 17 GB of it."""
    from PIL import Image

    smaller = []
    for photo in pool:
        image = Image.open(io.BytesIO(photo.body))
        factor = (megapixels * 1e6 / (image.width * image.height)) ** 0.5
        out = io.BytesIO()
        image.resize((round(image.width * factor), round(image.height * factor)), Image.LANCZOS).save(
            out, "JPEG", quality=85
        )
        smaller.append(PoolPhoto(photo.angle, out.getvalue()))
    return smaller


@dataclass(frozen=True)
class BenchListing:
    date: str
    rows: list[dict]
    photo_keys: dict[str, int]  # S3 key -> index into the pool

    @property
    def image_count(self) -> int:
        return len(self.photo_keys)


def make_listing(
    tag: str, date: str, images: int, provider: str, angles: list[str], per_vehicle: int = IMAGES_PER_VEHICLE
) -> BenchListing:
    """`images` photos, `per_vehicle` to a vehicle, all sent to `provider`, under keys unique to `tag`;
    image i shows pool photo i (mod the pool), whose angle is `angles[i]`."""
    rng = np.random.default_rng(zlib.crc32(tag.encode()))
    rows, keys = [], {}
    for vehicle in range(-(-images // per_vehicle)):
        vehicle_id = make_vin(rng, "WVW")
        count = min(per_vehicle, images - vehicle * per_vehicle)
        refs = []
        for n in range(count):
            key = f"bench/{tag}/{vehicle_id}/{n:02d}.jpg"
            keys[key] = (vehicle * per_vehicle + n) % len(angles)
            refs.append({"ref": key, "angle": angles[keys[key]], "provider": provider})
        rows.append({
            "vehicle_id": vehicle_id, "make": "Volkswagen", "model": "Golf", "colour": "silver",
            "listing_status": "active", "images": refs, "features": [], "hotspots": [],
        })  # fmt: skip
    return BenchListing(date, rows, keys)


def upload_photos(photo_keys: dict[str, int], pool: list[PoolPhoto], s3_client, bucket: str) -> None:
    """Photos (public-read, like the sample data)."""

    def put(item: tuple[str, int]) -> None:
        key, photo = item
        s3_client.put_object(Bucket=bucket, Key=key, Body=pool[photo].body, ContentType="image/jpeg", ACL="public-read")

    with ThreadPoolExecutor(16) as threads:
        list(threads.map(put, photo_keys.items()))


def put_listing_file(listing: BenchListing, s3_client, bucket: str) -> None:
    """The listing file under `listings/dt=<date>/`."""
    body = "".join(json.dumps(row) + "\n" for row in listing.rows).encode()
    s3_client.put_object(Bucket=bucket, Key=f"listings/dt={listing.date}/bench.jsonl", Body=body)


def first_images(listing: BenchListing, images: int) -> tuple[list[dict], dict[str, int]]:
    """The rows and photos of the listing's first `images` images: whole vehicles, and the last one cut short
    if `images` ends inside it (the vehicles after it are left out, as sold vehicles drop out of an export)."""
    rows, keys, left = [], {}, images
    for row in listing.rows:
        if left <= 0:
            break
        kept = row["images"][:left]
        rows.append({**row, "images": kept})
        keys.update({image["ref"]: listing.photo_keys[image["ref"]] for image in kept})
        left -= len(kept)
    return rows, keys


def with_new_images(earlier: BenchListing, new: BenchListing, date: str) -> BenchListing:
    """A date's listing of as many images as `earlier` lists: all but `new.image_count` of them the earlier
    listing's (same keys, same ETags: already processed), the rest the `new` listing's vehicles."""
    rows, keys = first_images(earlier, earlier.image_count - new.image_count)
    return BenchListing(date, rows + new.rows, keys | new.photo_keys)
