"""Task log lines of one DAG run, counted from the files Airflow writes for it.

Airflow 3 writes each task try's log under `<base_log_folder>/dag_id=<dag>/run_id=<run>/task_id=<task>/
[map_index=<i>/]attempt=<n>.log`, one JSON object per line, and a deferred try's trigger log beside it as
`attempt=<n>.log.trigger.<trigger id>.log`. Task process lines pass through their supervisor (the LocalExecutor
worker relays every line), trigger lines are written by the triggerer. Only counts leave this module: the
lines themselves may name buckets and keys.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

TASK, TRIGGER = "task", "trigger"
SHOWN_AT_INFO = ("info", "warning", "error", "critical", "unparsed")  # a line that is no JSON record is counted
TRIGGER_FILE_MARK = ".log.trigger."


@dataclass
class TaskLogLines:
    """Lines per source (`task`, `trigger`) and level (`info`, `warning`, ..., `unparsed`)."""

    by_source: dict[str, dict[str, int]] = field(default_factory=dict)
    files: int = 0

    def at_info(self, source: str | None = None) -> int:
        """Lines a logger at INFO writes (INFO and above), of one source or of all."""
        sources = [source] if source else list(self.by_source)
        return sum(self.by_source.get(s, {}).get(level, 0) for s in sources for level in SHOWN_AT_INFO)


def level_of(line: str) -> str:
    try:
        record = json.loads(line)
    except ValueError:
        return "unparsed"
    level = record.get("level") if isinstance(record, dict) else None
    return str(level).lower() if level else "unparsed"


def source_of(path: Path) -> str:
    return TRIGGER if TRIGGER_FILE_MARK in path.name else TASK


def count_task_log_lines(run_log_dir: Path) -> TaskLogLines:
    """Every non-empty line of every task log file under a run's folder (`.../dag_id=<dag>/run_id=<run>`), by
    source and level; nothing when the folder does not exist (a run without tasks)."""
    counts: dict[str, Counter[str]] = {}
    files = 0
    for path in sorted(run_log_dir.rglob("attempt=*.log*")) if run_log_dir.is_dir() else []:
        if not path.is_file():
            continue
        files += 1
        levels = counts.setdefault(source_of(path), Counter())
        with path.open(encoding="utf-8", errors="replace") as lines:
            levels.update(level_of(line) for line in lines if line.strip())
    return TaskLogLines({source: dict(levels) for source, levels in sorted(counts.items())}, files)
