"""Pixel work of the stand-ins: segmentation, clipping path, alpha mask, watermark and Car-Cutter results."""

from dev.standins.imaging.composition import CUT_TYPES, compose_car_cutter, vehicle_box
from dev.standins.imaging.contours import mask_to_svg
from dev.standins.imaging.masks import alpha_mask_png, cutout
from dev.standins.imaging.segmentation import segment_vehicle
from dev.standins.imaging.watermark import watermark

__all__ = [
    "CUT_TYPES",
    "alpha_mask_png",
    "compose_car_cutter",
    "cutout",
    "mask_to_svg",
    "segment_vehicle",
    "vehicle_box",
    "watermark",
]
