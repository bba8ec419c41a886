"""Where the samples of a `--profile` run went: `python -m bench.profiles bench/work/profiles/steady-*.txt`.

py-spy's raw output is one collapsed stack per line (`frame;frame;...;frame count`; with `--subprocesses` the
first frames name the processes, outermost first). This prints, over all the files given, the samples per
(innermost) process and the functions with the most samples on top of the stack (self) and anywhere in it
(inclusive). For a flame graph, open a file in speedscope or `flamegraph.pl`.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

TOP = 20


def read_stacks(paths: list[Path]) -> Counter[tuple[str, ...]]:
    stacks: Counter[tuple[str, ...]] = Counter()
    for path in paths:
        for line in path.read_text(errors="replace").splitlines():
            stack, _, count = line.rpartition(" ")
            if stack and count.isdigit():
                stacks[tuple(stack.split(";"))] += int(count)
    return stacks


def process_label(frame: str) -> str:
    """`process 123:"airflow worker -- 01a2..."` -> `airflow worker -- <task>`: task processes add up."""
    command = frame.partition(":")[2].strip('"')
    if command.startswith("airflow worker -- LocalExecutor"):
        return "airflow worker -- LocalExecutor"
    if command.startswith("airflow worker -- "):
        return "airflow worker -- <task>"
    return command.replace(sys.executable, "python")[:90] or frame


def summary(stacks: Counter[tuple[str, ...]], top: int = TOP) -> str:
    total = sum(stacks.values()) or 1
    processes: Counter[str] = Counter()
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for stack, count in stacks.items():
        nesting = [i for i, frame in enumerate(stack) if frame.startswith("process ")]
        process, frames = (stack[nesting[-1]], stack[nesting[-1] + 1 :]) if nesting else ("?", stack)
        processes[process_label(process)] += count
        if frames:
            own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count

    def block(title: str, counts: Counter[str]) -> list[str]:
        return [f"\n{title}", *(f"{100 * n / total:6.1f} %  {name}" for name, n in counts.most_common(top))]

    blocks = (("per process", processes), ("self (top of stack)", own), ("inclusive (anywhere in it)", inclusive))
    return "\n".join([f"{total} samples", *(line for title, counts in blocks for line in block(title, counts))])


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: python -m bench.profiles PROFILE.txt [...]")
    print(summary(read_stacks([Path(arg) for arg in sys.argv[1:]])))
