"""VIN-style vehicle ids: 17 characters from the VIN alphabet with a valid ISO 3779 check digit."""

from __future__ import annotations

import numpy as np

VIN_ALPHABET = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"  # no I, O, Q
MODEL_YEAR_CODES = "ABCDEFGHJKLMNPRSTVWXY123456789"  # position 10 also excludes U, Z and 0
_TRANSLITERATION = {
    **{str(digit): digit for digit in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


def check_digit(vin: str) -> str:
    """The check digit (position 9) a VIN must carry; position 9 itself does not count."""
    total = sum(_TRANSLITERATION[char] * weight for char, weight in zip(vin, _WEIGHTS, strict=True))
    remainder = total % 11
    return "X" if remainder == 10 else str(remainder)


def is_valid_vin(vin: str) -> bool:
    return len(vin) == 17 and all(char in VIN_ALPHABET for char in vin) and vin[8] == check_digit(vin)


def make_vin(rng: np.random.Generator, manufacturer_code: str) -> str:
    """A VIN with the given 3-character world manufacturer identifier and a correct check digit."""
    descriptor = "".join(rng.choice(list(VIN_ALPHABET), size=5))
    year = str(rng.choice(list(MODEL_YEAR_CODES)))
    plant = str(rng.choice(list(VIN_ALPHABET)))
    serial = "".join(str(digit) for digit in rng.integers(0, 10, size=6))
    draft = f"{manufacturer_code}{descriptor}0{year}{plant}{serial}"
    return draft[:8] + check_digit(draft) + draft[9:]
