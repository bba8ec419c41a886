"""The client that public example scripts show, written deliberately the same way: one image at a time,
submit it alone, ask for its status every second until it is final, download the result.

It is the baseline the pipeline is compared with, so it is kept this naive on purpose.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import requests

POLL_SECONDS = 1.0


@dataclass
class NaiveOutcome:
    images: int
    failed: int
    wall_seconds: float


def run_naive_client(base_url: str, token: str, image_urls: list[str], out_dir: Path) -> NaiveOutcome:
    out_dir.mkdir(parents=True, exist_ok=True)
    headers = {"Authorization": f"Bearer {token}"}
    failed = 0
    started = time.monotonic()
    for number, image_url in enumerate(image_urls):
        submitted = requests.post(
            f"{base_url}/vehicle/image/submission", headers=headers, files={"image_url": (None, image_url)},
            timeout=60,
        )  # fmt: skip
        submitted.raise_for_status()
        status = "processing"
        while status not in ("final", "error", "expired"):
            time.sleep(POLL_SECONDS)
            answer = requests.get(
                f"{base_url}/vehicle/image/status", headers=headers, params={"image_url": image_url}, timeout=60
            )
            answer.raise_for_status()
            status = answer.json()["data"]["images"][0]["status"]
        if status != "final":
            failed += 1
            continue
        result = requests.get(
            f"{base_url}/vehicle/image/result", headers=headers, params={"image_url": image_url}, timeout=60
        )
        result.raise_for_status()
        (out_dir / f"{number:05d}.jpg").write_bytes(result.content)
    return NaiveOutcome(len(image_urls), failed, time.monotonic() - started)
