"""The image secret that ClippingMagic.js needs, encrypted with Airflow's Fernet key for hand-over.

Records and XCom never hold the secret in clear: upload-for-review returns `secret_encrypted`, which the
web application that opens the editor decrypts with the same Fernet key (`decrypt_image_secret`).
Without a usable Fernet key nothing is returned; the secret can always be fetched again with `format=json`.
"""

from __future__ import annotations

import logging

from airflow.sdk.crypto import get_fernet
from airflow.sdk.exceptions import AirflowException

log = logging.getLogger(__name__)


def encrypt_image_secret(secret: str | None) -> str | None:
    if not secret:
        return None
    try:
        fernet = get_fernet()
    except AirflowException as error:
        log.warning("image secret not handed over: no usable Fernet key (%s)", error)
        return None
    if not fernet.is_encrypted:
        log.warning("image secret not handed over: [core] fernet_key is not set")
        return None
    return fernet.encrypt(secret.encode()).decode()


def decrypt_image_secret(token: str) -> str:
    return get_fernet().decrypt(token.encode()).decode()
