"""Vehicle listings: the one documented schema, loading CSV / JSON Lines / Parquet, validation with reasons."""

from include.listings.load import ListingFile, read_listing_file
from include.listings.schema import Feature, Hotspot, ListingImage, VehicleListing
from include.listings.validate import RejectedRow, ValidationResult, validate_listing_files

__all__ = [
    "Feature",
    "Hotspot",
    "ListingFile",
    "ListingImage",
    "RejectedRow",
    "ValidationResult",
    "VehicleListing",
    "read_listing_file",
    "validate_listing_files",
]
