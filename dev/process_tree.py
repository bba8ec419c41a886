"""Run a command until Ctrl-C, then stop it and every process it started, however deep.

`airflow standalone` starts the api-server, scheduler, dag-processor and triggerer, and they start log
servers, executor workers, task supervisors and task processes. This process makes itself a child subreaper
(Linux), so a descendant whose parent exits first is re-parented here instead of to init; once the command
has shut down, whatever is left is terminated. A second Ctrl-C skips the graceful wait.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence

import psutil

PR_SET_CHILD_SUBREAPER = 36
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class StopRequested(Exception):
    """Ctrl-C, `kill` or a closed terminal."""


class _Signals:
    """Counts stop signals: the first interrupts the wait for the command, later ones hurry the clean-up."""

    received = 0

    @classmethod
    def handle(cls, signum: int, _frame: object) -> None:
        cls.received += 1
        if cls.received == 1:
            raise StopRequested(signal.Signals(signum).name)

    @classmethod
    def hurry(cls) -> bool:
        return cls.received > 1


def become_subreaper() -> bool:
    """Orphaned descendants are re-parented to this process; False where the kernel cannot do it."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0


def run_until_stopped(
    command: Sequence[str],
    env: Mapping[str, str],
    *,
    name: str,
    ready: Callable[[], bool],
    on_ready: Callable[[], None],
    grace_seconds: float = 10.0,
) -> int:
    """Run `command` in its own session until it exits or this process is told to stop; call `on_ready`
    once `ready()` is true. On the way out the command gets SIGINT (its own Ctrl-C handling) and up to
    `grace_seconds` to finish; then every remaining descendant is terminated, and killed if it must be.
    Airflow's components take half a minute and more to finish a graceful shutdown on a busy machine,
    hence the short grace."""
    become_subreaper()
    _Signals.received = 0
    previous = {signum: signal.signal(signum, _Signals.handle) for signum in STOP_SIGNALS}
    process: subprocess.Popen | None = None
    stopped = False
    try:
        process = subprocess.Popen(list(command), env=dict(env), start_new_session=True)
        announced = False
        while process.poll() is None:
            if not announced and ready():
                on_ready()
                announced = True
            _reap_orphans(keep_pid=process.pid)
            time.sleep(0.5)
    except StopRequested as stop:
        stopped = True
        print(f"\n{stop}: stopping {name} and every process it started (Ctrl-C again to hurry) ...", flush=True)
    finally:
        try:
            if process is not None:
                stop_tree(process, grace_seconds)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
    if stopped or process is None:
        return 0  # Ctrl-C is how it is meant to end
    return process.returncode


def stop_tree(process: subprocess.Popen, grace_seconds: float) -> list[str]:
    """SIGINT to `process` and `grace_seconds` to shut down gracefully; then SIGTERM to every descendant of
    this process still alive (a second signal makes Airflow's components quit at once), SIGKILL 10 s later.
    Returns what was still running after the grace period."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        _wait(lambda: process.poll() is not None, grace_seconds)
    stragglers = [child for child in psutil.Process().children(recursive=True) if _running(child)]
    names = sorted({_name(child) for child in stragglers})
    for child in stragglers:
        _signal(child, signal.SIGTERM)
    _wait(lambda: not any(_running(child) for child in stragglers), 10)
    for child in stragglers:
        _signal(child, signal.SIGKILL)
    psutil.wait_procs(stragglers, timeout=5)
    process.wait()
    _reap_orphans(keep_pid=None)
    if names:
        print(f"stopped {len(stragglers)} processes still running after {grace_seconds:.0f} s: {', '.join(names)}")
    return names


def _wait(done: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not done() and time.monotonic() < deadline and not _Signals.hurry():
        time.sleep(0.2)


def _running(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _reap_orphans(keep_pid: int | None) -> None:
    """Collect the exit status of orphans re-parented here, so they do not linger as zombies."""
    for child in psutil.Process().children():
        if child.pid == keep_pid:
            continue
        with contextlib.suppress(psutil.Error, ChildProcessError):
            if child.status() == psutil.STATUS_ZOMBIE:
                os.waitpid(child.pid, os.WNOHANG)


def _signal(process: psutil.Process, signum: int) -> None:
    with contextlib.suppress(psutil.Error):
        process.send_signal(signum)


def _name(process: psutil.Process) -> str:
    try:
        return " ".join(process.cmdline()[:3]) or process.name()
    except psutil.Error:
        return str(process.pid)
