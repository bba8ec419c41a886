"""Car-Cutter style results: the vehicle placed by resolution and paddings, with the cut type's background.

- `complete`: the vehicle alone on a studio backdrop (or the uploaded background) with a contact shadow.
- `normal`: the photo's ground kept, everything above it replaced by the studio backdrop (or background).
- `blur`: the photo's own background, blurred.
- `none`: the photo only resized to the resolution and retouched (contrast, sharpness); paddings ignored.

Paddings are fractions (0..1) of the output size: `padding_x` left and right, `padding_y` top and bottom,
`padding_add_left/right/top/bottom` added on one side. With paddings the vehicle's bounding box is scaled to
fit the box they leave and centred in it; without, the whole photo is scaled to cover the output.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageOps

from dev.standins.imaging.masks import cutout

CUT_TYPES = ("complete", "normal", "blur", "none")
PADDING_KEYS = (
    "padding_x",
    "padding_y",
    "padding_add_left",
    "padding_add_right",
    "padding_add_top",
    "padding_add_bottom",
)
GROUND_SHARE = 0.25  # how far up the vehicle the kept ground of `normal` reaches, as a share of its height
PLATE_WIDTH_SHARE = 0.18  # a custom licence plate inlay is this wide, relative to the vehicle


def vehicle_box(out_size: tuple[int, int], paddings: dict[str, float]) -> tuple[float, float, float, float]:
    """The (left, top, right, bottom) box the paddings leave for the vehicle in the output."""
    width, height = out_size
    get = {key: float(paddings.get(key, 0) or 0) for key in PADDING_KEYS}
    left = (get["padding_x"] + get["padding_add_left"]) * width
    right = width - (get["padding_x"] + get["padding_add_right"]) * width
    top = (get["padding_y"] + get["padding_add_top"]) * height
    bottom = height - (get["padding_y"] + get["padding_add_bottom"]) * height
    if right - left < 1 or bottom - top < 1:
        raise ValueError("paddings leave no room for the vehicle")
    return left, top, right, bottom


def _placement(
    bbox: tuple[int, int, int, int],
    source: tuple[int, int],
    out_size: tuple[int, int],
    paddings: dict[str, float] | None,
) -> tuple[float, float, float]:
    """Scale and offset mapping source pixels to output pixels."""
    if not paddings:
        scale = max(out_size[0] / source[0], out_size[1] / source[1])
        return scale, (out_size[0] - source[0] * scale) / 2, (out_size[1] - source[1] * scale) / 2
    left, top, right, bottom = vehicle_box(out_size, paddings)
    x0, y0, x1, y1 = bbox
    scale = min((right - left) / (x1 - x0), (bottom - top) / (y1 - y0))
    offset_x = (left + right - (x1 - x0) * scale) / 2 - x0 * scale
    offset_y = (top + bottom - (y1 - y0) * scale) / 2 - y0 * scale
    return scale, offset_x, offset_y


def _place(image: Image.Image, placement: tuple[float, float, float], out_size: tuple[int, int]) -> Image.Image:
    scale, dx, dy = placement
    fill = 0 if image.mode in ("L", "RGBA") else None
    return image.transform(
        out_size,
        Image.Transform.AFFINE,
        (1 / scale, 0, -dx / scale, 0, 1 / scale, -dy / scale),
        resample=Image.Resampling.BILINEAR,
        fillcolor=fill,
    )


def _place_filled(photo: Image.Image, placement: tuple[float, float, float], out_size: tuple[int, int]) -> Image.Image:
    """The placed photo; where it does not reach, a blurred copy of the photo scaled to cover the output."""
    placed = _place(photo, placement, out_size)
    covered = _place(Image.new("L", photo.size, 255), placement, out_size)
    filler = ImageOps.fit(photo, out_size).filter(ImageFilter.GaussianBlur(max(2.0, 0.02 * out_size[0])))
    return Image.composite(placed, filler, covered)


def studio_backdrop(out_size: tuple[int, int], floor_y: float) -> Image.Image:
    """A light wall fading into a lighter floor at `floor_y`."""
    width, height = out_size
    rows = np.arange(height, dtype=np.float32)[:, None]
    wall = 238 - 22 * rows / max(1.0, floor_y)
    floor = 228 - 28 * (rows - floor_y) / max(1.0, height - floor_y)
    blend = np.clip((rows - floor_y) / max(2.0, 0.02 * height) + 0.5, 0, 1)
    grey = np.broadcast_to(wall * (1 - blend) + floor * blend, (height, width))
    tint = np.array([1.0, 1.0, 1.02], dtype=np.float32)
    return Image.fromarray(np.clip(grey[..., None] * tint, 0, 255).astype(np.uint8))


def _backdrop(background: Image.Image | None, out_size: tuple[int, int], floor_y: float) -> Image.Image:
    if background is None:
        return studio_backdrop(out_size, floor_y)
    return ImageOps.fit(background.convert("RGB"), out_size, method=Image.Resampling.BICUBIC)


def _contact_shadow(canvas: Image.Image, bbox: tuple[int, int, int, int]) -> Image.Image:
    x0, _, x1, y1 = bbox
    shadow = Image.new("L", canvas.size, 0)
    spread = (x1 - x0) * 0.04
    ImageDraw.Draw(shadow).ellipse([x0 - spread, y1 - spread, x1 + spread, y1 + spread], fill=110)
    shadow = shadow.filter(ImageFilter.GaussianBlur(max(1.0, spread)))
    return Image.composite(Image.new("RGB", canvas.size, (40, 40, 44)), canvas, shadow)


def _paste_plate(canvas: Image.Image, plate: Image.Image, bbox: tuple[int, int, int, int]) -> None:
    x0, y0, x1, y1 = bbox
    plate = plate.convert("RGBA")
    width = max(1, round((x1 - x0) * PLATE_WIDTH_SHARE))
    plate = plate.resize((width, max(1, round(width * plate.height / plate.width))))
    centre_x, centre_y = (x0 + x1) / 2, y0 + (y1 - y0) * 0.85
    canvas.paste(plate, (round(centre_x - plate.width / 2), round(centre_y - plate.height / 2)), plate)


def _retouch(image: Image.Image) -> Image.Image:
    balanced = ImageOps.autocontrast(image, cutoff=0.5, preserve_tone=True)
    return balanced.filter(ImageFilter.UnsharpMask(radius=2, percent=60, threshold=2))


def compose_car_cutter(
    image: Image.Image,
    mask: Image.Image,
    cut_type: str,
    resolution: tuple[int, int] | None = None,
    paddings: dict[str, float] | None = None,
    background: Image.Image | None = None,
    license_plate: Image.Image | None = None,
    overlay: Image.Image | None = None,
) -> Image.Image:
    """The RGB result of processing `image` (vehicle = `mask`) with a Car-Cutter cut type."""
    if cut_type not in CUT_TYPES:
        raise ValueError(f"unknown cut_type {cut_type!r}; expected one of {CUT_TYPES}")
    photo = image.convert("RGB")
    out_size = tuple(resolution) if resolution else photo.size
    if cut_type == "none":
        result = _retouch(_place(photo, _placement((0, 0, *photo.size), photo.size, out_size, None), out_size))
    else:
        binary = mask.convert("L").point(lambda value: 255 if value >= 128 else 0)
        source_bbox = binary.getbbox() or (0, 0, *photo.size)
        placement = _placement(source_bbox, photo.size, out_size, paddings)
        vehicle = _place(cutout(photo, mask), placement, out_size)
        bbox = vehicle.getchannel("A").getbbox() or (0, 0, *out_size)
        floor_y = bbox[3] - (bbox[3] - bbox[1]) * GROUND_SHARE
        if cut_type == "complete":
            canvas = _contact_shadow(_backdrop(background, out_size, floor_y), bbox)
        else:
            canvas = _place_filled(photo, placement, out_size)
            if cut_type == "blur":
                canvas = canvas.filter(ImageFilter.GaussianBlur(max(2.0, 0.015 * out_size[0])))
            else:
                sky = _backdrop(background, out_size, floor_y)
                rows = np.arange(out_size[1], dtype=np.float32)[:, None]
                keep_ground = np.clip((rows - floor_y) / max(2.0, 0.03 * out_size[1]) + 0.5, 0, 1)
                weights = Image.fromarray((np.broadcast_to(keep_ground, out_size[::-1]) * 255).astype(np.uint8))
                canvas = Image.composite(canvas, sky, weights)
        canvas.paste(vehicle, (0, 0), vehicle)
        if license_plate is not None:
            _paste_plate(canvas, license_plate, bbox)
        result = canvas
    if overlay is not None:
        layer = overlay.convert("RGBA").resize(out_size)
        result = Image.alpha_composite(result.convert("RGBA"), layer).convert("RGB")
    return result
