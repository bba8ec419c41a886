"""Drawing a synthetic vehicle (body, windows, wheels, lights) seen from one angle.

Everything is drawn at `scale` times the photo size and later reduced, which anti-aliases the edges. The
vehicle layer and its coverage mask are returned separately, so the photo composer can put them on any
background and keep the exact ground truth.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

Point = tuple[float, float]
THREE_QUARTER_SQUASH = 0.72
EXTERIOR_ANGLES = ("front-left", "side-left", "rear-left", "rear", "rear-right", "side-right", "front-right", "front")

GLASS = (42, 52, 66)
TYRE = (24, 24, 26)
ARCH = (14, 14, 16)
RIM = (172, 175, 180)
TRIM = (34, 34, 36)
HEADLIGHT = (236, 236, 226)
TAILLIGHT = (178, 22, 26)
PLATE = (238, 238, 232)


@dataclass(frozen=True)
class BodyType:
    height_ratio: float  # body height / body length
    front_top: float
    windshield_base: Point  # (u along the length from the front, v up from the ground), both 0..1
    roof_front: Point
    roof_rear: Point
    rear_base: Point
    rear_top: float


BODY_TYPES = {
    "sedan": BodyType(0.36, 0.42, (0.30, 0.56), (0.45, 0.92), (0.70, 0.92), (0.84, 0.60), 0.54),
    "hatchback": BodyType(0.40, 0.44, (0.30, 0.56), (0.44, 0.93), (0.84, 0.91), (0.98, 0.64), 0.58),
    "suv": BodyType(0.46, 0.48, (0.26, 0.58), (0.38, 0.95), (0.90, 0.95), (0.99, 0.70), 0.62),
}


@dataclass
class VehicleLayer:
    """The drawn vehicle at `scale` times photo size: colours, coverage, and named part positions (photo px)."""

    image: Image.Image
    body: Image.Image
    coverage: Image.Image
    parts: dict[str, tuple[int, int]] = field(default_factory=dict)


class _Canvas:
    def __init__(self, width: int, height: int, scale: int, colour: tuple[int, int, int]) -> None:
        self.scale = scale
        self.colour = colour
        self.image = Image.new("RGB", (width * scale, height * scale), colour)
        self.body = Image.new("L", self.image.size, 0)
        self.coverage = Image.new("L", self.image.size, 0)
        self.parts: dict[str, tuple[int, int]] = {}

    def _px(self, points: list[Point]) -> list[Point]:
        return [(x * self.scale, y * self.scale) for x, y in points]

    def body_polygon(self, points: list[Point]) -> None:
        ImageDraw.Draw(self.body).polygon(self._px(points), fill=255)
        ImageDraw.Draw(self.coverage).polygon(self._px(points), fill=255)

    def solid_polygon(self, points: list[Point], colour: tuple[int, int, int], covers: bool = False) -> None:
        ImageDraw.Draw(self.image).polygon(self._px(points), fill=colour)
        if covers:
            ImageDraw.Draw(self.coverage).polygon(self._px(points), fill=255)

    def ellipse(self, centre: Point, radii: Point, colour: tuple[int, int, int], covers: bool = False) -> None:
        (cx, cy), (rx, ry) = centre, radii
        box = self._px([(cx - rx, cy - ry), (cx + rx, cy + ry)])
        ImageDraw.Draw(self.image).ellipse(box, fill=colour)
        if covers:
            ImageDraw.Draw(self.coverage).ellipse(box, fill=255)

    def line(self, points: list[Point], colour: tuple[int, int, int], width: float) -> None:
        ImageDraw.Draw(self.image).line(self._px(points), fill=colour, width=max(1, round(width * self.scale)))

    def shade_body(self, length: float, rng: np.random.Generator) -> None:
        """Light from above, darker toward the edges where the panels curve away, one glossy reflection."""
        body = np.asarray(self.body) > 0
        pixels = np.asarray(self.image, dtype=np.float32).copy()
        body_rows = np.flatnonzero(body.any(axis=1))
        top, bottom = body_rows[0], body_rows[-1]
        rows = np.arange(body.shape[0], dtype=np.float32)[:, None]
        v = np.clip((bottom - rows) / max(1, bottom - top), 0, 1)
        factor = 0.80 + 0.30 * v
        edge_distance = ndimage.distance_transform_edt(body)
        factor = factor * (1 - 0.35 * np.exp(-edge_distance / (0.012 * length * self.scale)))
        shaded = pixels * factor[..., None]
        reflection_v = rng.uniform(0.55, 0.75)
        band = np.exp(-(((v - reflection_v) / 0.05) ** 2))
        shaded += (38 * band)[..., None]
        pixels[body] = np.clip(shaded[body], 0, 255)
        self.image = Image.fromarray(pixels.astype(np.uint8))

    def wheel(self, centre: Point, radius: float, squash: float = 1.0) -> None:
        cx, cy = centre
        self.ellipse(centre, (radius * squash, radius), TYRE, covers=True)
        self.ellipse(centre, (radius * 0.62 * squash, radius * 0.62), RIM)
        for spoke in range(5):
            angle = 2 * np.pi * spoke / 5
            end = (cx + np.cos(angle) * radius * 0.58 * squash, cy + np.sin(angle) * radius * 0.58)
            self.line([centre, end], (120, 122, 126), radius * 0.12)
        self.ellipse(centre, (radius * 0.16 * squash, radius * 0.16), (90, 92, 95))


def _side_mapper(left: float, ground: float, length: float, height: float, front_left: bool):
    def to_px(u: float, v: float) -> Point:
        x = left + (u if front_left else 1 - u) * length
        return (x, ground - v * height)

    return to_px


def _side_profile(body: BodyType) -> list[Point]:
    return [
        (0.0, 0.14),
        (0.0, body.front_top),
        (0.04, body.front_top + 0.07),
        body.windshield_base,
        body.roof_front,
        body.roof_rear,
        body.rear_base,
        (0.98, body.rear_top + 0.02),
        (1.0, body.rear_top),
        (1.0, 0.18),
        (0.97, 0.10),
        (0.03, 0.10),
    ]


def _side_windows(body: BodyType) -> list[Point]:
    (wu, wv), (fu, fv), (ru, rv), (bu, bv) = body.windshield_base, body.roof_front, body.roof_rear, body.rear_base
    return [(wu + 0.04, wv + 0.03), (fu + 0.01, fv - 0.04), (ru - 0.01, rv - 0.04), (bu - 0.05, bv + 0.02)]


def _draw_side(
    canvas: _Canvas, body: BodyType, left: float, ground: float, length: float, front_left: bool, squash: float = 1.0
) -> dict[str, Point]:
    """A side profile; `squash` < 1 compresses it for three-quarter views. Returns part positions."""
    height = body.height_ratio * length / squash
    to_px = _side_mapper(left, ground, length, height, front_left)
    canvas.body_polygon([to_px(u, v) for u, v in _side_profile(body)])
    radius = 0.075 * length / squash
    wheel_centres = {"front-wheel": to_px(0.17, 0), "rear-wheel": to_px(0.80, 0)}
    for centre in wheel_centres.values():
        arch = (centre[0], ground - radius)
        canvas.ellipse(arch, (radius * 1.12 * squash, radius * 1.12), ARCH)
    windows = _side_windows(body)
    canvas.solid_polygon([to_px(u, v) for u, v in windows], GLASS)
    pillar_u = (windows[0][0] + windows[3][0]) / 2 + 0.02
    canvas.line([to_px(pillar_u, windows[0][1] - 0.02), to_px(pillar_u, 0.92)], canvas.colour, 0.012 * length)
    for u in (0.33, 0.57):
        canvas.line([to_px(u, 0.16), to_px(u, body.windshield_base[1] - 0.02)], TRIM, 0.002 * length)
    canvas.solid_polygon([to_px(0.22, 0.10), to_px(0.74, 0.10), to_px(0.74, 0.16), to_px(0.22, 0.16)], TRIM)
    canvas.solid_polygon(
        [
            to_px(0.0, body.front_top - 0.07),
            to_px(0.05, body.front_top - 0.05),
            to_px(0.05, body.front_top + 0.02),
            to_px(0.0, body.front_top),
        ],
        HEADLIGHT,
    )
    canvas.solid_polygon(
        [
            to_px(1.0, body.rear_top - 0.10),
            to_px(0.96, body.rear_top - 0.10),
            to_px(0.96, body.rear_top - 0.02),
            to_px(1.0, body.rear_top - 0.02),
        ],
        TAILLIGHT,
    )
    mirror = body.windshield_base
    canvas.solid_polygon(
        [
            to_px(mirror[0], mirror[1]),
            to_px(mirror[0] + 0.04, mirror[1]),
            to_px(mirror[0] + 0.04, mirror[1] + 0.06),
            to_px(mirror[0] + 0.01, mirror[1] + 0.06),
        ],
        TRIM,
    )
    for centre in wheel_centres.values():
        canvas.wheel((centre[0], ground - radius), radius, squash)
    return {
        "front-wheel": (wheel_centres["front-wheel"][0], ground - radius),
        "rear-wheel": (wheel_centres["rear-wheel"][0], ground - radius),
        "side-mirror": to_px(mirror[0] + 0.02, mirror[1] + 0.03),
        "side-window": to_px(*np.mean(windows, axis=0)),
        "door-handle": to_px(0.50, 0.46),
    }


def _face_mapper(left: float, ground: float, width: float, height: float):
    def to_px(s: float, v: float) -> Point:
        return (left + (s + 0.5) * width, ground - v * height)

    return to_px


def _draw_face(
    canvas: _Canvas, body: BodyType, left: float, ground: float, width: float, height: float, front: bool
) -> dict[str, Point]:
    """The front or the rear of the vehicle seen head-on, `width` wide. Returns part positions."""
    to_px = _face_mapper(left, ground, width, height)
    waist = body.windshield_base[1]
    outline = [
        (-0.5, 0.14),
        (-0.5, waist - 0.06),
        (-0.46, waist),
        (-0.40, waist),
        (-0.31, 0.92),
        (0.31, 0.92),
        (0.40, waist),
        (0.46, waist),
        (0.5, waist - 0.06),
        (0.5, 0.14),
        (0.46, 0.08),
        (-0.46, 0.08),
    ]
    canvas.body_polygon([to_px(s, v) for s, v in outline])
    for side in (-1, 1):
        canvas.solid_polygon(
            [
                to_px(side * 0.50, waist + 0.02),
                to_px(side * 0.57, waist + 0.04),
                to_px(side * 0.57, waist + 0.11),
                to_px(side * 0.50, waist + 0.10),
            ],
            TRIM,
            covers=True,
        )
        canvas.solid_polygon(
            [to_px(side * 0.46, 0.0), to_px(side * 0.32, 0.0), to_px(side * 0.32, 0.12), to_px(side * 0.46, 0.12)],
            TYRE,
            covers=True,
        )
    canvas.solid_polygon(
        [to_px(-0.35, waist + 0.04), to_px(-0.28, 0.88), to_px(0.28, 0.88), to_px(0.35, waist + 0.04)], GLASS
    )
    lamp = HEADLIGHT if front else TAILLIGHT
    lamp_v = waist - 0.14
    for side in (-1, 1):
        canvas.solid_polygon(
            [
                to_px(side * 0.44, lamp_v),
                to_px(side * 0.24, lamp_v),
                to_px(side * 0.24, lamp_v + 0.07),
                to_px(side * 0.44, lamp_v + 0.09),
            ],
            lamp,
        )
    if front:
        canvas.solid_polygon(
            [to_px(-0.18, 0.26), to_px(0.18, 0.26), to_px(0.18, lamp_v + 0.02), to_px(-0.18, lamp_v + 0.02)], TRIM
        )
    canvas.solid_polygon([to_px(-0.10, 0.15), to_px(0.10, 0.15), to_px(0.10, 0.23), to_px(-0.10, 0.23)], PLATE)
    canvas.solid_polygon([to_px(-0.46, 0.08), to_px(0.46, 0.08), to_px(0.46, 0.13), to_px(-0.46, 0.13)], TRIM)
    lamp_name = "headlight" if front else "taillight"
    return {
        f"left-{lamp_name}": to_px(-0.34, lamp_v + 0.04),
        f"right-{lamp_name}": to_px(0.34, lamp_v + 0.04),
        "license-plate": to_px(0.0, 0.19),
        "windscreen" if front else "rear-window": to_px(0.0, 0.75),
    }


def draw_vehicle(
    rng: np.random.Generator,
    angle: str,
    body_name: str,
    colour: tuple[int, int, int],
    width: int,
    height: int,
    scale: int,
) -> VehicleLayer:
    """Draw the vehicle seen from `angle` (one of EXTERIOR_ANGLES) placed inside a photo of width x height."""
    body = BODY_TYPES[body_name]
    canvas = _Canvas(width, height, scale, colour)
    ground = height * rng.uniform(0.80, 0.88)
    if angle in ("front", "rear"):
        face_width = min(width * rng.uniform(0.42, 0.55), (ground - height * 0.10) / 0.80)
        face_height = face_width * 0.80 * body.height_ratio / 0.40
        face_height = min(face_height, ground - height * 0.08)
        left = (width - face_width) / 2 + width * rng.uniform(-0.06, 0.06)
        parts = _draw_face(canvas, body, left, ground, face_width, face_height, front=angle == "front")
        canvas.shade_body(face_width, rng)
    else:
        total = width * rng.uniform(0.64, 0.82)
        total = min(total, (ground - height * 0.08) / body.height_ratio)
        left = (width - total) / 2 + width * rng.uniform(-0.04, 0.04)
        front_left = angle in ("side-left", "front-left", "rear-left")
        if angle.startswith("side"):
            parts = _draw_side(canvas, body, left, ground, total, front_left)
        else:
            parts = _draw_three_quarter(canvas, body, left, ground, total, front_left, front=angle.startswith("front"))
        canvas.shade_body(total, rng)
    return VehicleLayer(
        canvas.image, canvas.body, canvas.coverage, {name: (round(x), round(y)) for name, (x, y) in parts.items()}
    )


def _draw_three_quarter(
    canvas: _Canvas, body: BodyType, left: float, ground: float, total: float, front_left: bool, front: bool
) -> dict[str, Point]:
    """A side compressed to 64 % of the length plus the front or rear face at the matching end."""
    squash = THREE_QUARTER_SQUASH
    side_length = total * 0.64
    face_width = total - side_length
    height = body.height_ratio * side_length / squash
    face_at_left = front == front_left
    side_left = left + face_width if face_at_left else left
    face_left = left if face_at_left else left + side_length
    parts = _draw_side(canvas, body, side_left, ground, side_length, front_left, squash)
    face_parts = _draw_face(canvas, body, face_left, ground + total * 0.01, face_width, height, front)
    to_side = _side_mapper(side_left, ground, side_length, height, front_left)
    to_face = _face_mapper(face_left, ground + total * 0.01, face_width, height)
    edge = 1 if face_at_left else -1  # the face corner that meets the side
    end_u, top = (0.0, body.roof_front) if front else (1.0, body.roof_rear)
    base = body.windshield_base if front else body.rear_base
    waist = body.windshield_base[1]
    connector = [to_face(edge * 0.31, 0.92), to_side(*top), to_side(*base), to_face(edge * 0.40, waist)]
    canvas.body_polygon([*connector, to_side(end_u, 0.14), to_face(edge * 0.5, 0.14)])
    canvas.solid_polygon(connector, GLASS)
    return {**parts, **face_parts}
