"""How well `segment_vehicle` finds the vehicle in generated sample photos, per background kind.

`python -m dev.standins.imaging.evaluate --photos 200` generates sample data sets (several seeds and sizes,
through `dev.sampledata.generate`, so photos are the JPEGs it writes), segments every photo that shows a
vehicle (interiors fill the frame and are left out) and prints the IoU against the generator's ground truth.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from dev.sampledata import generate
from dev.standins.imaging.segmentation import segment_vehicle

IMAGES_PER_VEHICLE = 8  # six exterior angles, an interior and a detail shot per vehicle
MEGAPIXELS = (0.3, 0.5, 1.0)
BAR = 0.9


@dataclass(frozen=True)
class Scored:
    seed: int
    megapixels: float
    background: str
    angle: str
    key: str
    iou: float
    seconds: float


def iou(first: Image.Image, second: Image.Image) -> float:
    a, b = np.asarray(first) >= 128, np.asarray(second) >= 128
    return float((a & b).sum() / max(1, (a | b).sum()))


def scored_photos(seed: int, vehicles: int, megapixels: float) -> Iterator[Scored]:
    """Generate one sample data set and score the segmentation of each of its non-interior photos."""
    with tempfile.TemporaryDirectory() as out:
        sample = generate(
            Path(out),
            seed=seed,
            vehicles=vehicles,
            images_per_vehicle=IMAGES_PER_VEHICLE,
            megapixels=megapixels,
            formats=("jsonl",),
        )
        for photo in sample.photos:
            if photo.angle == "interior":
                continue
            with Image.open(photo.path) as image, Image.open(photo.mask_path) as truth:
                started = time.process_time()
                found = segment_vehicle(image)
                seconds = time.process_time() - started
                yield Scored(seed, megapixels, photo.background, photo.angle, photo.key, iou(found, truth), seconds)


def evaluate(photos: int, first_seed: int = 1000) -> list[Scored]:
    """At least `photos` scored photos, seeds counting up from `first_seed`, sizes taking turns."""
    per_set = 7 * 3  # three vehicles of seven non-interior photos
    scores: list[Scored] = []
    seed = first_seed
    while len(scores) < photos:
        scores.extend(scored_photos(seed, vehicles=3, megapixels=MEGAPIXELS[(seed - first_seed) % len(MEGAPIXELS)]))
        seed += 1
    assert len(scores) % per_set == 0
    return scores


def _summary(scores: list[Scored]) -> str:
    lines = [f"{'group':<14}{'photos':>7}{'min IoU':>9}{'mean IoU':>10}{'< 0.9':>7}{'s/photo':>9}"]
    groups: dict[str, list[Scored]] = {}
    for score in scores:
        groups.setdefault(score.background, []).append(score)
        groups.setdefault(f"{score.megapixels} MP", []).append(score)
    groups["all"] = scores
    for name, members in groups.items():
        values = np.array([member.iou for member in members])
        seconds = np.mean([member.seconds for member in members])
        lines.append(
            f"{name:<14}{len(members):>7}{values.min():>9.3f}{values.mean():>10.3f}"
            f"{int((values < BAR).sum()):>7}{seconds:>9.2f}"
        )
    worst = sorted(scores, key=lambda score: score.iou)[:5]
    lines.append(
        "worst: " + "; ".join(f"seed {s.seed} {s.megapixels} MP {s.key} ({s.background}) {s.iou:.3f}" for s in worst)
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=200, help="at least this many photos are scored")
    parser.add_argument("--first-seed", type=int, default=1000)
    arguments = parser.parse_args()
    print(_summary(evaluate(arguments.photos, arguments.first_seed)))


if __name__ == "__main__":
    main()
