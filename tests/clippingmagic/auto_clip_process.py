"""The auto-clip operator in a worker process of its own, for tests that pause or kill a worker:
`python -m tests.clippingmagic.auto_clip_process '<the operator's arguments as JSON>'`."""

from __future__ import annotations

import json
import sys

from vehicle_photos.clippingmagic.operators.auto_clip import ClippingMagicAutoClipOperator


def main() -> None:
    arguments = json.loads(sys.argv[1])
    ClippingMagicAutoClipOperator(task_id=arguments.pop("task_id", "auto_clip"), **arguments).execute({})


if __name__ == "__main__":
    main()
