"""Local composites of Clipping Magic's cut-outs, for dealers whose profile asks for one: the cut-out on the
dealer's background colour or image, at a canvas size or aspect, with padding, as JPEG, PNG or WebP.

Compositing costs no credit and never touches a record: a composite's key is a digest of the result it is made
from and of the composite settings, under `<processed prefix>/_composites/<vehicle>/`, so a changed composite
makes new files and never a new upload. The planner lists that prefix once per run to find the composites that
exist; only the missing ones are made.
"""

from __future__ import annotations

import io
import json
import logging
from typing import Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from PIL import Image, ImageOps

from include.pipeline.vehicle_state import digest_of
from include.profiles.schema import Composite
from vehicle_photos.image_common.items import load_list, put_bytes
from vehicle_photos.image_common.request_images import RequestImage, read_checked_request_image
from vehicle_photos.image_common.s3_objects import list_objects, read_object
from vehicle_photos.image_common.statuses import ResultStatus

log = logging.getLogger(__name__)

COMPOSITES_DIR = "_composites"
_FORMATS = {
    "jpeg": ("JPEG", ".jpg", "image/jpeg"),
    "png": ("PNG", ".png", "image/png"),
    "webp": ("WEBP", ".webp", "image/webp"),
}


def composite_key(
    processed_prefix: str, vehicle_id: str, name: str, result_uri: str, composite: dict[str, Any], background: str
) -> str:
    """`background`: the background image's digest, or "" for none."""
    digest = digest_of({"result": result_uri, "composite": composite, "background": background})
    extension = _FORMATS[composite["format"]][1]
    return f"{processed_prefix.strip('/')}/{COMPOSITES_DIR}/{vehicle_id}/{name}-{digest[:16]}{extension}"


def existing_composites(s3_client: Any, bucket: str, processed_prefix: str) -> set[str]:
    """Keys of every composite made so far (one paged listing)."""
    prefix = f"{processed_prefix.strip('/')}/{COMPOSITES_DIR}/"
    return {listed.key for listed in list_objects(s3_client, bucket, prefix)}


def compose(cutout: Image.Image, settings: Composite, background: Image.Image | None = None) -> bytes:
    """The cut-out (RGBA: its alpha says what is vehicle) on the canvas the settings describe."""
    cutout = cutout.convert("RGBA")
    cutout = cutout.crop(cutout.getchannel("A").getbbox() or (0, 0, *cutout.size))
    room = 1.0 - 2.0 * settings.padding
    if settings.size:
        canvas_size = settings.size
    else:
        ratio = _ratio(settings.aspect) if settings.aspect else cutout.width / cutout.height
        width = max(cutout.width / room, cutout.height / room * ratio)
        canvas_size = (round(width), round(width / ratio))
    pad = settings.padding * min(canvas_size)
    scale = min((canvas_size[0] - 2 * pad) / cutout.width, (canvas_size[1] - 2 * pad) / cutout.height)
    placed = cutout.resize((max(1, round(cutout.width * scale)), max(1, round(cutout.height * scale))))
    if background is not None:
        canvas = ImageOps.fit(background.convert("RGBA"), canvas_size)
    else:
        colour = settings.background_colour or "#00000000"
        canvas = Image.new("RGBA", canvas_size, colour)
    position = ((canvas_size[0] - placed.width) // 2, (canvas_size[1] - placed.height) // 2)
    canvas.alpha_composite(placed, position)
    image_format = _FORMATS[settings.format][0]
    out = canvas.convert("RGB") if image_format == "JPEG" else canvas
    buffer = io.BytesIO()
    out.save(buffer, format=image_format, quality=settings.quality)
    return buffer.getvalue()


def composite_batch(s3_hook: S3Hook, batch: dict[str, Any], policy: Any) -> dict[str, Any]:
    """The batch's missing composites: of the images its Clipping Magic task finished, and of earlier results.
    Returns counts; the composites made are listed in `batch["results_uri"]` (JSON Lines) for the manifest."""
    settings = Composite.model_validate(batch["composite"])
    background = _background(s3_hook, batch.get("background"), policy)
    wanted = load_list(batch["reused"], s3_hook, "reused") if batch.get("reused") else []
    wanted += _finished_results(s3_hook, batch.get("autoclip_results_uri"))
    made, failed, lines = 0, 0, []
    for item in wanted:
        key = composite_key(
            batch["processed_prefix"],
            item["vehicle_id"],
            item["name"],
            item["result"],
            batch["composite"],
            (batch.get("background") or {}).get("sha256", ""),
        )
        try:
            body = compose(_read_image(s3_hook, item["result"]), settings, background)
        except (OSError, ValueError) as error:
            failed += 1
            log.warning("no composite for %s/%s: %s", item["vehicle_id"], item["name"], error)
            continue
        uri = put_bytes(s3_hook, f"s3://{batch['bucket']}/{key}", body, _FORMATS[settings.format][2])
        lines.append(json.dumps({"vehicle_id": item["vehicle_id"], "name": item["name"], "composite": uri}) + "\n")
        made += 1
    put_bytes(s3_hook, batch["results_uri"], "".join(lines).encode(), "application/x-ndjson")
    log.info("composites: %d made, %d failed", made, failed)
    return {"made": made, "failed": failed}


def _finished_results(s3_hook: S3Hook, results_uri: str | None) -> list[dict[str, str]]:
    from vehicle_photos.image_common.items import read_results

    if not results_uri:
        return []
    return [  # none when the Clipping Magic task failed before writing its results
        {"vehicle_id": result.vehicle_id, "name": result.name, "result": result.outputs["result"]}
        for result in read_results(s3_hook, results_uri)
        if result.status == ResultStatus.FINAL and result.outputs.get("result")
    ]


def _read_image(s3_hook: S3Hook, uri: str) -> Image.Image:
    bucket, key = S3Hook.parse_s3_url(uri)
    image = Image.open(io.BytesIO(read_object(s3_hook.conn, bucket, key)))
    if "A" not in image.getbands():
        raise ValueError(f"{uri} has no alpha channel to cut the vehicle out by")
    return image


def _background(s3_hook: S3Hook, background: dict[str, str] | None, policy: Any) -> Image.Image | None:
    if not background:
        return None
    body = read_checked_request_image(s3_hook.conn, RequestImage(**background), policy)
    return Image.open(io.BytesIO(body))


def _ratio(aspect: str) -> float:
    width, height = aspect.split(":")
    return int(width) / int(height)
