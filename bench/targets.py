"""The targets of issue 7, reported (never asserted) against a benchmark's rows."""

from __future__ import annotations

from typing import Any

MB = 1024 * 1024


def _find(rows: list[dict[str, Any]], workload: str, n: int | None = None) -> dict[str, Any] | None:
    matching = [r for r in rows if r["workload"] == workload and (n is None or r["n"] == n)]
    return max(matching, key=lambda r: r["n"]) if matching else None


def _busiest_rss(row: dict[str, Any]) -> float:
    workers = [p for p in row["processes"] if p["role"] != "s3"]
    return max(workers, key=lambda p: p["cpu_seconds"])["rss_bytes"] / MB


def _airflow_peak_rss(row: dict[str, Any]) -> float:
    return max(p["rss_bytes"] for p in row["processes"] if p["role"] not in ("s3", "carcutter", "clippingmagic")) / MB


def evaluate(rows: list[dict[str, Any]], processing_seconds: float) -> list[tuple[str, str, bool]]:
    """(target, measured, met) for every target the rows allow to check."""
    checks: list[tuple[str, str, bool]] = []
    large, small = _find(rows, "carcutter-async"), _find(rows, "carcutter-async", 120)
    if large:
        n = large["n"]
        spans = (("DAG run wall", large["wall_seconds"]), ("processing span", large["processing_seconds"]))
        for label, seconds in spans:
            per_image = 1000 * (seconds - processing_seconds) / n
            checks.append((f"N={n}: ({label} - P)/N <= 5 ms", f"{per_image:.1f} ms", per_image <= 5))
        calls = large["calls_per_image"]
        checks += [
            (f"N={n}: <= 1 submission per 60 images", f"1 per {1 / max(calls['submission'], 1e-9):.0f}",
             calls["submission"] <= 1 / 60 + 1e-9),
            (f"N={n}: status calls <= 0.05 per image", f"{calls['status']:.3f}", calls["status"] <= 0.05),
            (f"N={n}: exactly 1 result download per image", f"{calls['result']:.3f}", calls["result"] == 1),
            (f"N={n}: exactly 1 credit per image", f"{large['credits_per_image']:.3f}",
             large["credits_per_image"] == 1),
        ]  # fmt: skip
        if small and small is not large:
            ratio = _airflow_peak_rss(large) / _airflow_peak_rss(small)
            checks.append((f"peak RSS (Airflow processes) N={n} <= 1.3 x N=120", f"{ratio:.2f} x", ratio <= 1.3))
        busiest = _busiest_rss(large)
        checks.append((f"N={n}: busiest process < 500 MB", f"{busiest:.0f} MB", busiest < 500))
    naive = _find(rows, "naive")
    if small and naive:
        times = small["images_per_second"] / naive["images_per_second"]
        checks.append(("N=120: >= 20 x the naive client (DAG run wall)", f"{times:.1f} x", times >= 20))
        times = small["processing_images_per_second"] / naive["images_per_second"]
        checks.append(("N=120: >= 20 x the naive client (processing span)", f"{times:.1f} x", times >= 20))
    clip = _find(rows, "clippingmagic-autoclip")
    if clip:
        rate = clip["processing_images_per_second"]
        share = rate / clip["limit_images_per_second"]
        checks.append((f"auto-clip N={clip['n']}: >= 85% of the limit (auto-clip span)", f"{share:.0%}", share >= 0.85))
        if "request_ratio" in clip["extra"]:
            share = clip["extra"]["request_ratio"]
            checks.append(
                (f"auto-clip N={clip['n']}: requests/s >= 85% of cap / latency", f"{share:.0%}", share >= 0.85)
            )
        checks.append((f"auto-clip N={clip['n']}: zero failed images", str(clip["failed_images"]),
                       clip["failed_images"] == 0))  # fmt: skip
    return checks


def render(checks: list[tuple[str, str, bool]]) -> str:
    lines = ["| target | measured | met |", "|---|---|---|"]
    lines += [f"| {target} | {measured} | {'yes' if met else '**no**'} |" for target, measured, met in checks]
    return "\n".join(lines)
