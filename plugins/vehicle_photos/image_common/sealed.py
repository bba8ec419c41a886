"""Exact submitted URLs, sealed with Airflow's Fernet key.

Car-Cutter only knows an image by the exact URL it was sent, and for an S3 source that is a presigned URL
whose query string is a signature. To resume an image after a crash, the record must hold that URL; to keep
signatures out of everything people and tools read, it holds it encrypted. Without a Fernet key
(`[core] fernet_key`) nothing is sealed and the work stops with a clear error: failing closed is safer than
writing signatures in clear.

Keys rotate as Airflow's do: `fernet_key = new,old` seals with the first key and opens with any of them.
A seal that none of the configured keys opens (the old key was dropped while a claim still held a seal made
with it) raises `UnopenableSealError`, which fails that image alone: its call cannot be asked about, and it
may have been billed, so it is neither resumed nor sent again until the old key is back.
"""

from __future__ import annotations

from airflow.sdk.crypto import get_fernet
from airflow.sdk.exceptions import AirflowException
from cryptography.fernet import InvalidToken


class SealingUnavailableError(RuntimeError):
    """No usable Fernet key is configured."""


def seal(url: str) -> str:
    return _fernet().encrypt(url.encode()).decode()


class UnopenableSealError(ValueError):
    """A seal that none of the configured Fernet keys opens."""


UNOPENABLE_REASON = (
    "its claim holds the exact URL sent to Car-Cutter sealed with a Fernet key that is no longer configured; "
    "it may have been billed, so it is not sent again: put the old key back after the new one in "
    "[core] fernet_key (`new,old`) and rerun to resume it"
)


def unseal(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise UnopenableSealError(UNOPENABLE_REASON) from None


def opens(token: str) -> bool:
    """Whether a configured key opens the seal."""
    try:
        unseal(token)
    except UnopenableSealError:
        return False
    return True


def _fernet():
    try:
        fernet = get_fernet()
    except AirflowException as error:  # a key that is not a Fernet key
        raise SealingUnavailableError(f"Airflow's Fernet key is unusable: {error}") from None
    if not fernet.is_encrypted:
        raise SealingUnavailableError(
            "Airflow has no Fernet key ([core] fernet_key / AIRFLOW__CORE__FERNET_KEY): the exact URLs sent to "
            "Car-Cutter are kept encrypted with it, so set one (see the README's deployment section)"
        )
    return fernet
