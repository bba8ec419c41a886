"""The targets of issues 7, 12 and 23, reported (never asserted) against a benchmark's results.

Each target is `{"target": str, "measured": number | str, "goal": number | str, "met": bool}`; the target
text names the unit and how measured compares with goal. A target whose measurement is missing (the stand-in
does not count it, the metadata DB had no XCom) is reported with measured "n/a" and met false.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

MB = 1024 * 1024
REFERENCE_N = 6000  # the size the issue sets the per-image targets at
XCOM_LIMIT_BYTES = 64 * 1024
TASK_LOG_LINES_PER_IMAGE = 0.2  # at INFO: one line per batch per stage and one per failure, not one per image
AIRFLOW_ROLES = ("api-server", "scheduler", "dag-processor", "triggerer")
TASK_PROCESS = "task process"  # bench.monitor's name for the processes LocalExecutor workers run tasks in
S3_REQUESTS_PER_NEW_IMAGE = 4.5
TASK_CPU_MS_PER_NEW_IMAGE = 5.0

Target = dict[str, Any]


def target(text: str, measured: float | str | None, goal: float | str, met: Callable[[Any, Any], bool]) -> Target:
    if measured is None:
        return {"target": text, "measured": "n/a", "goal": goal, "met": False}
    return {"target": text, "measured": measured, "goal": goal, "met": bool(met(measured, goal))}


def _find(rows: list[dict[str, Any]], workload: str, n: int | None = None) -> dict[str, Any] | None:
    matching = [r for r in rows if r["workload"] == workload and (n is None or r["n"] == n)]
    return max(matching, key=lambda r: r["n"]) if matching else None


def airflow_peak_rss_mb(row: dict[str, Any]) -> float:
    return max((p["rss_bytes"] for p in row["processes"] if p["role"] in AIRFLOW_ROLES), default=0) / MB


def task_process_cpu_ms_per_image(row: dict[str, Any]) -> float | None:
    """CPU of the task processes alone (not the scheduler, its LocalExecutor workers, moto or the stand-ins)
    per image; None when the row has no task process (the naive client)."""
    seconds = [p["cpu_seconds"] for p in row["processes"] if p["role"] == "scheduler" and p["name"] == TASK_PROCESS]
    return 1000 * sum(seconds) / row["n"] if seconds else None


def _xcom_bytes(row: dict[str, Any]) -> int | None:
    return row["largest_xcom"]["bytes"] if row.get("largest_xcom") else None


def _rounded(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def steady_state_targets(steady: dict[str, Any]) -> list[Target]:
    n, le = steady["n"], operator.le
    return [
        target(
            f"steady state N={n}: DAG wall [s] <= 60 s + the new images' own processing (control run's "
            "processing span)",
            round(steady["wall_seconds"], 1), round(steady["wall_goal_seconds"], 1), le,
        ),
        target(f"steady state N={n}: S3 requests per unchanged image <=",
               round(steady["s3_requests_per_unchanged_image"], 4), 0.05, le),
        target(f"steady state N={n}: API calls per unchanged image <=",
               round(steady["api_calls_per_unchanged_image"], 4), 0, le),
        target(f"steady state N={n}: credits per unchanged image <=",
               round(steady["credits_per_unchanged_image"], 4), 0, le),
        target(f"steady state N={n}: peak RSS of any Airflow process [MB] <", round(steady["peak_rss_mb"]), 500,
               operator.lt),
        target(f"steady state N={n}: largest XCom value [bytes] <=",
               steady["largest_xcom"]["bytes"] if steady["largest_xcom"] else None, XCOM_LIMIT_BYTES, le),
    ]  # fmt: skip


def workload_targets(rows: list[dict[str, Any]], processing_seconds: float) -> list[Target]:
    checks: list[Target] = []
    le, eq = operator.le, operator.eq
    large = _find(rows, "carcutter-async", REFERENCE_N) or _find(rows, "carcutter-async")
    small = _find(rows, "carcutter-async", 120)
    for row in sorted((r for r in rows if r["workload"] != "naive"), key=lambda r: (r["workload"], r["n"])):
        checks.append(target(f"{row['workload']} N={row['n']}: largest XCom value [bytes] <=", _xcom_bytes(row),
                             XCOM_LIMIT_BYTES, le))  # fmt: skip
    if large:
        n = large["n"]
        downloads = large.get("result_downloads")
        checks += [
            target(f"N={n}: (processing span - P) / N [ms] <=",
                   round(1000 * (large["processing_seconds"] - processing_seconds) / n, 2), 5, le),
            target(f"N={n}: S3 requests per new image <=", round(large["s3_requests_per_image"], 3),
                   S3_REQUESTS_PER_NEW_IMAGE, le),
            target(f"N={n}: CPU of the Airflow task processes per new image [ms] <=",
                   _rounded(task_process_cpu_ms_per_image(large), 2), TASK_CPU_MS_PER_NEW_IMAGE, le),
            target(f"N={n}: result downloads per image ==", round(large["calls_per_image"]["result"], 4), 1, eq),
            target(f"N={n}: repeated result downloads (same URL again) ==",
                   downloads["repeated"] if downloads else None, 0, eq),
            target(f"N={n}: credits per image ==", round(large["credits_per_image"], 4), 1, eq),
            target(f"N={n}: Car-Cutter submissions <= the API's floor (one per vehicle per 60 images)",
                   large["calls"]["submission"], large["submission_floor"], le),
            target(f"N={n}: peak RSS of any Airflow process [MB] <", round(airflow_peak_rss_mb(large)), 500,
                   operator.lt),
            target(f"N={n}: task log lines per image at INFO (task and trigger logs) <=",
                   _rounded(large.get("task_log_lines_per_image")), TASK_LOG_LINES_PER_IMAGE, le),
        ]  # fmt: skip
        if small and small is not large:
            ratio = airflow_peak_rss_mb(large) / airflow_peak_rss_mb(small)
            checks.append(target(f"peak RSS of Airflow processes, N={n} / N=120 [x] <=", round(ratio, 2), 1.3, le))
    naive = _find(rows, "naive")
    if small and naive:
        times = small["images_per_second"] / naive["images_per_second"]
        checks.append(target("N=120: images/s on the DAG wall / the naive client's [x] >=", round(times, 1), 20,
                             operator.ge))  # fmt: skip
    clip = _find(rows, "clippingmagic-autoclip")
    if clip:
        share = clip["processing_images_per_second"] / clip["limit_images_per_second"]
        checks.append(target(f"auto-clip N={clip['n']}: images/s on the auto-clip span / (cap / latency) >=",
                             round(share, 3), 0.85, operator.ge))  # fmt: skip
        if "request_ratio" in clip["extra"]:
            checks.append(target(f"auto-clip N={clip['n']}: requests/s on the auto-clip span / (cap / latency) >=",
                                 round(clip["extra"]["request_ratio"], 3), 0.85, operator.ge))  # fmt: skip
        checks.append(target(f"auto-clip N={clip['n']}: failed images ==", clip["failed_images"], 0, eq))
    return checks


def evaluate(results: dict[str, Any]) -> list[Target]:
    """Every target the results allow to check: the steady states first, then the other workloads."""
    checks = [check for steady in results.get("steady_state", []) for check in steady_state_targets(steady)]
    return checks + workload_targets(results["rows"], results["processing_seconds"])


def render(checks: list[Target]) -> str:
    lines = ["| target | measured | goal | met |", "|---|---|---|---|"]
    lines += [f"| {c['target']} | {c['measured']} | {c['goal']} | {'yes' if c['met'] else '**no**'} |" for c in checks]
    return "\n".join(lines)
