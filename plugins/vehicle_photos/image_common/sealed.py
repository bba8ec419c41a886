"""Exact submitted URLs, sealed with Airflow's Fernet key.

Car-Cutter only knows an image by the exact URL it was sent, and for an S3 source that is a presigned URL
whose query string is a signature. To resume an image after a crash, the record must hold that URL; to keep
signatures out of everything people and tools read, it holds it encrypted. Without a Fernet key
(`[core] fernet_key`) nothing is sealed and the work stops with a clear error: failing closed is safer than
writing signatures in clear.
"""

from __future__ import annotations

from airflow.sdk.crypto import get_fernet
from airflow.sdk.exceptions import AirflowException


class SealingUnavailableError(RuntimeError):
    """No usable Fernet key is configured."""


def seal(url: str) -> str:
    return _fernet().encrypt(url.encode()).decode()


def unseal(token: str) -> str:
    return _fernet().decrypt(token.encode()).decode()


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
