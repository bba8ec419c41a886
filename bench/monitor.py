"""Peak memory and CPU time of the processes that do the work, sampled with psutil.

Each root (an Airflow component, a stand-in, moto) is watched with its whole process tree: the scheduler's
tree holds the LocalExecutor workers and the task processes they start. A sampling thread keeps the
largest RSS seen per process (named by its role and command line). CPU time of a tree is the sum over its
live processes of their own and their reaped children's time, so tasks that ended are still counted.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import psutil

SAMPLE_SECONDS = 0.25


@dataclass
class ProcessPeak:
    role: str
    name: str
    rss_bytes: int = 0
    cpu_seconds: float = 0.0


def _name(process: psutil.Process) -> str:
    """A short, stable label. LocalExecutor workers are titled `airflow worker -- LocalExecutor: <ti id>` and
    the task process each one forks `airflow worker -- <ti id>`."""
    try:
        words = " ".join(process.cmdline()).split()
    except psutil.Error:
        return "?"
    label = " ".join(word.rsplit("/", 1)[-1] for word in words[:4])
    if label.startswith("airflow worker -- LocalExecutor"):
        return "LocalExecutor worker"
    if label.startswith("airflow worker -- "):
        return "task process"
    if label.startswith("airflow api_server"):
        return "airflow api-server"
    return label.replace("python -m ", "")[:48]


def _tree(root: psutil.Process) -> list[psutil.Process]:
    try:
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def _cpu(process: psutil.Process) -> float:
    try:
        times = process.cpu_times()
    except psutil.Error:
        return 0.0
    return times.user + times.system + times.children_user + times.children_system


@dataclass
class Monitor:
    roots: dict[str, int]  # role -> pid
    peaks: dict[tuple[str, str], ProcessPeak] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __post_init__(self) -> None:
        self._processes = {role: psutil.Process(pid) for role, pid in self.roots.items()}
        self._cpu_seen: dict[int, float] = {}

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds so far per role: its tree's live processes, including their reaped children."""
        return {role: sum(_cpu(p) for p in _tree(root)) for role, root in self._processes.items()}

    def start(self) -> None:
        self.peaks.clear()
        self._cpu_seen.clear()
        for root in self._processes.values():  # processes alive now count only what they use from here on
            for process in _tree(root):
                try:
                    times = process.cpu_times()
                except psutil.Error:
                    continue
                self._cpu_seen[process.pid] = times.user + times.system
        self._stop.clear()
        self._thread = threading.Thread(target=self._sample_forever, name="bench-monitor", daemon=True)
        self._thread.start()

    def stop(self) -> list[ProcessPeak]:
        self._stop.set()
        if self._thread:
            self._thread.join()
        return sorted(self.peaks.values(), key=lambda peak: (peak.role, -peak.rss_bytes))

    def _sample_forever(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            self.sample()

    def sample(self) -> None:
        for role, root in self._processes.items():
            for process in _tree(root):
                try:
                    rss = process.memory_info().rss
                    cpu = process.cpu_times()
                except psutil.Error:
                    continue
                # Named at every sample: a forked task process keeps its parent's title for a moment.
                key = (role, _name(process))
                peak = self.peaks.setdefault(key, ProcessPeak(role, key[1]))
                peak.rss_bytes = max(peak.rss_bytes, rss)
                # Processes sharing a name (task runners) add up; each pid's growth is counted once.
                own = cpu.user + cpu.system
                peak.cpu_seconds += max(0.0, own - self._cpu_seen.get(process.pid, 0.0))
                self._cpu_seen[process.pid] = own
