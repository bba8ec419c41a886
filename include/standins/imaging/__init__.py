"""Pixel work of the stand-ins: segmentation, clipping path, alpha mask, watermark and Car-Cutter results."""

from include.standins.imaging.composition import CUT_TYPES, compose_car_cutter, vehicle_box
from include.standins.imaging.contours import mask_to_svg
from include.standins.imaging.masks import alpha_mask_png, cutout
from include.standins.imaging.segmentation import segment_vehicle
from include.standins.imaging.watermark import watermark

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
