"""The per-image targets of issue 23 read from a benchmark row: S3 requests and the task processes' CPU."""

from __future__ import annotations

from typing import Any

from bench.targets import workload_targets


def _row(s3_requests: int, processes: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "workload": "carcutter-async", "n": 6000, "processing_seconds": 40.0, "result_downloads": {"repeated": 0},
        "calls_per_image": {"result": 1.0}, "credits_per_image": 1.0, "calls": {"submission": 100},
        "submission_floor": 100, "processes": processes, "task_log_lines_per_image": 0.1,
        "s3_requests_per_image": s3_requests / 6000, "largest_xcom": None,
    }  # fmt: skip


def _process(role: str, name: str, cpu_seconds: float) -> dict[str, Any]:
    return {"role": role, "name": name, "cpu_seconds": cpu_seconds, "rss_bytes": 100 * 1024 * 1024}


def _by_text(checks: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {check["target"]: check for check in checks}


def test_task_process_cpu_counts_only_the_task_processes() -> None:
    processes = [
        _process("scheduler", "task process", 24.0),
        _process("scheduler", "airflow scheduler", 50.0),
        _process("scheduler", "LocalExecutor worker", 9.0),
        _process("s3", "dev.stack.moto_s3 -H", 80.0),
    ]
    checks = _by_text(workload_targets([_row(27_000, processes)], processing_seconds=2.0))
    cpu = checks["N=6000: CPU of the Airflow task processes per new image [ms] <="]
    assert (cpu["measured"], cpu["goal"], cpu["met"]) == (4.0, 5.0, True)
    requests = checks["N=6000: S3 requests per new image <="]
    assert (requests["measured"], requests["goal"], requests["met"]) == (4.5, 4.5, True)


def test_misses_are_reported_as_misses() -> None:
    processes = [_process("scheduler", "task process", 36.0)]
    checks = _by_text(workload_targets([_row(32_400, processes)], processing_seconds=2.0))
    assert checks["N=6000: CPU of the Airflow task processes per new image [ms] <="]["met"] is False
    assert checks["N=6000: S3 requests per new image <="]["measured"] == 5.4
    assert checks["N=6000: S3 requests per new image <="]["met"] is False


def test_a_run_without_task_processes_has_no_measurement() -> None:
    checks = _by_text(workload_targets([_row(27_000, [])], processing_seconds=2.0))
    assert checks["N=6000: CPU of the Airflow task processes per new image [ms] <="]["measured"] == "n/a"
