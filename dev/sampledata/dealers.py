"""Three sample dealers with visibly different profiles, and the profiles file with its images.

- `studio-motors`: Car-Cutter's white studio scene with the dealer's logo in the corner;
- `plain-cars`: a plain cut-out on the studio backdrop with the dealer's licence-plate inlay;
- `grey-interiors`: its interior and detail shots through Clipping Magic, composited on grey at 4:3.
"""

from __future__ import annotations

import io

import yaml
from PIL import Image, ImageDraw

SAMPLE_DEALERS = ("studio-motors", "plain-cars", "grey-interiors")
PROFILES_KEY = "config/profiles.yaml"
LOGO_KEY = "config/dealers/studio-motors/logo.png"
PLATE_KEY = "config/dealers/plain-cars/plate.png"


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def logo_png() -> bytes:
    """A transparent overlay with a round badge in the lower right corner (Car-Cutter stretches it to the result)."""
    image = Image.new("RGBA", (400, 300), (0, 0, 0, 0))
    ImageDraw.Draw(image).ellipse((330, 230, 390, 290), fill=(200, 30, 40, 230), outline=(255, 255, 255, 255))
    return _png(image)


def plate_png() -> bytes:
    image = Image.new("RGBA", (220, 48), (250, 250, 250, 255))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 219, 47), outline=(20, 20, 20, 255), width=3)
    draw.rectangle((4, 4, 26, 43), fill=(20, 60, 160, 255))
    draw.text((40, 16), "PLAIN CARS", fill=(20, 20, 20, 255))
    return _png(image)


def profiles_yaml() -> bytes:
    return yaml.safe_dump(
        {
            "default": {"carcutter": {"cut_type": "complete"}},
            "dealers": {
                "studio-motors": {"carcutter": {"scene_id": "studio-white", "overlay": LOGO_KEY}},
                "plain-cars": {"carcutter": {"cut_type": "complete", "license_plate": PLATE_KEY}},
                "grey-interiors": {
                    "clippingmagic_angles": ["interior", "detail"],
                    "clippingmagic": {"composite": {"background_colour": "#8c8c8c", "aspect": "4:3"}},
                },
            },
        },
        sort_keys=False,
    ).encode()


def sample_config_files() -> dict[str, bytes]:
    """S3 key -> bytes: the profiles file and the images it names."""
    return {PROFILES_KEY: profiles_yaml(), LOGO_KEY: logo_png(), PLATE_KEY: plate_png()}
