"""Knobs for a Clipping Magic that lags and loses answers, as a real service under load may (the documents are
silent on all of it, `guesses.py` "Clipping Magic, late and lost"): uploads listed late, upload answers lost
after processing and billing, uploads held past the client's timeout, and an account with many older images."""

from __future__ import annotations

from dev.standins import guesses
from dev.standins.common.knobs import Knob

LIST_ORDERS = ("ascending", "descending")

LAG_KNOBS: tuple[Knob, ...] = (
    Knob("list_delay", float, 0.0, "a new upload appears in the list endpoint only this many seconds later"),
    Knob(
        "lost_upload_answers",
        int,
        0,
        "the next N uploads are processed and billed, then their connection is closed before the answer",
    ),
    Knob("upload_hold_seconds", float, 0.0, "an upload is stored and billed only this long after it arrived"),
    Knob(
        "preloaded_images",
        int,
        0,
        "the account holds this many older images (listed only; cheap in memory), numbered before later uploads",
    ),
    Knob("list_order", str, guesses.CM_LIST_ORDER, "order of the list endpoint by image id", choices=LIST_ORDERS),
    Knob(
        "storage_bad_body",
        str,
        "",
        "storage answers 200 with this instead of the result file: html (an error page) or empty",
        choices=("", "html", "empty"),
    ),
)
