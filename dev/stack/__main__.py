"""`python -m dev.stack up|down|status`: the local stack in the background for `make stack`.

`up` writes `.stack/env` (shell `export` lines with every URL, credential and Airflow connection) and
`.stack/pids.json`; `down` stops what `up` started.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import sys

from dev.stack.services import REPO_ROOT, StackSettings, start_stack

STACK_DIR = REPO_ROOT / ".stack"
PIDS_FILE = STACK_DIR / "pids.json"
ENV_FILE = STACK_DIR / "env"


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def up() -> None:
    if PIDS_FILE.exists() and any(_running(pid) for pid in json.loads(PIDS_FILE.read_text()).values()):
        print(f"stack already running; see {ENV_FILE} (make stack-down to stop it)")
        return
    settings = StackSettings.from_env()
    settings.log_dir = STACK_DIR / "logs"
    stack = start_stack(settings, detached=True)
    STACK_DIR.mkdir(exist_ok=True)
    PIDS_FILE.write_text(json.dumps({name: proc.pid for name, proc in stack.processes.items()}))
    ENV_FILE.write_text("".join(f"export {key}={shlex.quote(value)}\n" for key, value in stack.environment().items()))
    print("local stack is up (logs in .stack/logs/):")
    print(f"  S3 (moto)       {stack.s3_url}  bucket {stack.bucket}  key/secret testing/testing")
    print(f"  Car-Cutter      {stack.carcutter_url}")
    print(f"  Clipping Magic  {stack.clippingmagic_url}")
    print(f"  environment and Airflow connections: {ENV_FILE}  (source it)")


def down() -> None:
    if not PIDS_FILE.exists():
        print("stack is not running")
        return
    for name, pid in json.loads(PIDS_FILE.read_text()).items():
        if _running(pid):
            os.killpg(pid, signal.SIGTERM)
            print(f"stopped {name} (pid {pid})")
    PIDS_FILE.unlink()
    ENV_FILE.unlink(missing_ok=True)


def status() -> int:
    if not PIDS_FILE.exists():
        print("stack is not running")
        return 1
    pids = json.loads(PIDS_FILE.read_text())
    for name, pid in pids.items():
        print(f"{name:14} pid {pid:<8} {'running' if _running(pid) else 'stopped'}")
    return 0 if all(_running(pid) for pid in pids.values()) else 1


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m dev.stack")
    parser.add_argument("command", choices=["up", "down", "status"])
    command = parser.parse_args().command
    if command == "status":
        return status()
    up() if command == "up" else down()
    return 0


if __name__ == "__main__":
    sys.exit(main())
