"""The benchmark's outputs: Markdown tables on stdout, `bench/results/<date>-<commit>.json` and `.png`, and for
a full run `bench/results/latest.json` and `docs/bench.png` for the README.

`python -m bench.report [results.json]` prints the README's tables again from a results file (default
`bench/results/latest.json`).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from bench import targets

MB = 1024 * 1024
RESULTS_DIR = Path(__file__).resolve().parent / "results"
LATEST = RESULTS_DIR / "latest.json"
COLUMNS = (
    ("workload", "{workload}"), ("N", "{n}"), ("wall s", "{wall_seconds:.1f}"),
    ("processing s", "{processing_seconds:.1f}"), ("images/s", "{images_per_second:.1f}"),
    ("limit/s", "{limit_images_per_second:.1f}"), ("ratio", "{limit_ratio:.0%}"),
    ("(proc-P)/N ms", "{overhead_ms:.1f}"), ("submit/img", "{submission:.3f}"), ("status/img", "{status:.3f}"),
    ("result/img", "{result:.3f}"), ("other/img", "{other:.2f}"), ("429s", "{status_429}"),
    ("failed", "{failed_images}"), ("credits/img", "{credits_per_image:.2f}"), ("S3 req/img", "{s3_per_image}"),
    ("largest XCom", "{xcom}"), ("CPU ms/img", "{cpu_ms_per_image:.1f}"), ("peak RSS MB", "{peak_rss_mb:.0f}"),
    ("log lines/img", "{log_lines_per_image}"), ("task retries", "{retries}"),
)  # fmt: skip
STEADY_COLUMNS = (
    ("N", "{n}"), ("new", "{new}"), ("wall s", "{wall_seconds:.1f}"), ("goal s", "{wall_goal_seconds:.1f}"),
    ("control wall s", "{control_wall_seconds:.1f}"), ("own processing s", "{own_processing_seconds:.1f}"),
    ("S3 req/listed img", "{s3_requests_per_listed_image:.3f}"),
    ("S3 req/unchanged img", "{s3_requests_per_unchanged_image:.4f}"),
    ("API calls/unchanged img", "{api_calls_per_unchanged_image:.3f}"),
    ("credits/unchanged img", "{credits_per_unchanged_image:.3f}"), ("failed", "{failed_images}"),
    ("largest XCom", "{xcom}"), ("peak RSS MB", "{peak_rss_mb:.0f}"), ("task retries (control)", "{retries}"),
)  # fmt: skip


def xcom_label(largest: dict[str, Any] | None) -> str:
    if not largest:
        return "-"
    index = f"[{largest['map_index']}]" if largest["map_index"] >= 0 else ""
    return f"{largest['bytes'] / 1024:.1f} KB {largest['task_id']}{index} {largest['key']}"


def row_values(row: dict[str, Any], processing_seconds: float) -> dict[str, Any]:
    s3_total = row.get("s3_requests", {}).get("total")
    return {
        **row,
        **row["calls_per_image"],
        "overhead_ms": 1000 * (row["processing_seconds"] - processing_seconds) / row["n"],
        "peak_rss_mb": max((p["rss_bytes"] for p in row["processes"] if p["role"] != "s3"), default=0) / MB,
        "s3_per_image": f"{s3_total / row['n']:.2f}" if s3_total is not None and row["workload"] != "naive" else "-",
        "xcom": xcom_label(row.get("largest_xcom")),
        "retries": len(row["extra"].get("retried_tasks", [])),
        "log_lines_per_image": _per_image(row.get("task_log_lines_per_image")),
    }


def _per_image(value: float | None) -> str:
    """Task log lines per image at INFO; "-" without a DAG run (the naive client) or in older results files."""
    return "-" if value is None else f"{value:.3f}"


def _markdown(columns: tuple[tuple[str, str], ...], values: list[dict[str, Any]]) -> str:
    """A Markdown table: prints well in a terminal and pastes into the README."""
    header = "| " + " | ".join(name for name, _ in columns) + " |"
    rule = "|" + "|".join("---" for _ in columns) + "|"
    lines = ["| " + " | ".join(fmt.format(**value) for _, fmt in columns) + " |" for value in values]
    return "\n".join([header, rule, *lines])


def table(rows: list[dict[str, Any]], processing_seconds: float) -> str:
    return _markdown(COLUMNS, [row_values(row, processing_seconds) for row in rows])


def steady_table(steady: list[dict[str, Any]]) -> str:
    values = [
        {
            **s,
            "xcom": xcom_label(s["largest_xcom"]),
            "retries": f"{len(s['extra']['retried_tasks'])} ({len(s['extra']['control_retried_tasks'])})",
        }
        for s in steady
    ]
    return _markdown(STEADY_COLUMNS, values)


def s3_table(results: dict[str, Any]) -> str:
    """S3 requests of every DAG run by operation and top-level folder: where the requests per image come from."""
    runs = [(f"{r['workload']} N={r['n']}", r["s3_requests"]) for r in results["rows"] if r.get("s3_requests")]
    for s in results.get("steady_state", []):
        runs += [(f"steady control k={s['new']}", s["control_s3_requests"]), (f"steady N={s['n']}", s["s3_requests"])]
    lines = ["| run | S3 requests | by operation and folder |", "|---|---|---|"]
    for name, counts in runs:
        spread = ", ".join(
            f"{k} {v}"
            for k, v in sorted((counts.get("by_operation_and_folder") or counts["by_operation"]).items(), key=_largest)
        )
        lines.append(f"| {name} | {counts['total']} | {spread} |")
    return "\n".join(lines)


def _largest(item: tuple[str, int]) -> tuple[int, str]:
    return -item[1], item[0]


def process_table(rows: list[dict[str, Any]]) -> str:
    lines = ["| workload | N | role | process | peak RSS MB | CPU s |", "|---|---|---|---|---|---|"]
    for row in rows:
        for process in sorted(row["processes"], key=lambda p: -p["rss_bytes"]):
            if not process["rss_bytes"]:
                continue
            if process["cpu_seconds"] < 0.05 and process["role"] not in ("scheduler", "triggerer"):
                continue
            lines.append(
                f"| {row['workload']} | {row['n']} | {process['role']} | {process['name'][:40]} | "
                f"{process['rss_bytes'] / MB:.0f} | {process['cpu_seconds']:.1f} |"
            )
    return "\n".join(lines)


def markdown(results: dict[str, Any]) -> str:
    """Every table of a results file, in the README's order."""
    rows, p = results["rows"], results["processing_seconds"]
    parts = [table(rows, p)]
    if results.get("steady_state"):
        parts.append(steady_table(results["steady_state"]))
    parts += [s3_table(results), process_table(rows), targets.render(results["targets"])]
    return "\n\n".join(parts)


def plot(results: dict[str, Any], path: Path) -> None:
    rows, processing_seconds = results["rows"], results["processing_seconds"]
    async_rows = sorted((r for r in rows if r["workload"] == "carcutter-async"), key=lambda r: r["n"])
    naive = next((r for r in rows if r["workload"] == "naive"), None)
    figure, ((rate, overhead), (steady, xcom)) = plt.subplots(2, 2, figsize=(11, 8.4))
    sizes = [r["n"] for r in async_rows]
    rate.plot(sizes, [r["images_per_second"] for r in async_rows], "o-", label="vehicle_listings DAG (DAG run wall)")
    rate.plot(sizes, [r["processing_images_per_second"] for r in async_rows], "s--", label="processing span")
    rate.plot(sizes, [r["limit_images_per_second"] for r in async_rows], "kx:", label="limit: P + moving the bytes")
    if naive:
        rate.axhline(naive["images_per_second"], color="tab:red", label=f"naive client (N={naive['n']})")
        rate.axhline(20 * naive["images_per_second"], color="tab:red", linestyle="--", label="20 x naive (target)")
    rate.set(xscale="log", yscale="log", xlabel="images (N)", ylabel="images per second",
             title=f"Car-Cutter async, P = {processing_seconds:g} s")  # fmt: skip
    rate.legend(fontsize=8)
    overhead.plot(sizes, [1000 * (r["wall_seconds"] - processing_seconds) / r["n"] for r in async_rows], "o-",
                  label="(DAG wall - P) / N")  # fmt: skip
    overhead.plot(sizes, [1000 * (r["processing_seconds"] - processing_seconds) / r["n"] for r in async_rows],
                  "s--", label="(processing span - P) / N")  # fmt: skip
    overhead.plot(sizes, [r["cpu_ms_per_image"] for r in async_rows], "^-.", label="Airflow CPU per image")
    overhead.axhline(5, color="grey", linestyle=":", label="target at N = 6,000: 5 ms")
    overhead.set(xscale="log", yscale="log", xlabel="images (N)", ylabel="ms per image", title="Per-image overhead")
    overhead.legend(fontsize=8)
    _plot_steady(steady, results.get("steady_state", []))
    _plot_xcom(xcom, results)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _plot_steady(axes: Any, steady: list[dict[str, Any]]) -> None:
    positions = list(range(len(steady)))
    axes.bar([x - 0.18 for x in positions], [s["wall_seconds"] for s in steady], 0.36, label="steady-state DAG wall")
    axes.bar([x + 0.18 for x in positions], [s["control_wall_seconds"] for s in steady], 0.36,
             label="control DAG wall (new images alone)")  # fmt: skip
    axes.scatter([x - 0.18 for x in positions], [s["wall_goal_seconds"] for s in steady], color="black", marker="_",
                 s=1200, zorder=3, label="goal: 60 s + the new images' own processing")  # fmt: skip
    labels = [
        f"N={s['n']:,}, {s['new']} new\nS3 {s['s3_requests_per_unchanged_image']:.3f} / unchanged image\n"
        f"API {s['api_calls_per_unchanged_image']:.2f} / unchanged image"
        for s in steady
    ]
    top = max((max(s["wall_seconds"], s["wall_goal_seconds"]) for s in steady), default=1)
    axes.set(xticks=positions, xticklabels=labels, xlim=(-0.7, len(steady) - 0.3), ylim=(0, 1.45 * top),
             ylabel="seconds", title="Steady state: 1 % new images")  # fmt: skip
    axes.tick_params(axis="x", labelsize=8)
    axes.legend(fontsize=8, loc="upper left")


def _plot_xcom(axes: Any, results: dict[str, Any]) -> None:
    runs = [(r["workload"], r["n"], r.get("largest_xcom")) for r in results["rows"] if r["workload"] != "naive"]
    runs += [("steady-state", s["n"], s["largest_xcom"]) for s in results.get("steady_state", [])]
    for workload, style in zip(sorted({w for w, _, _ in runs}), ("o-", "s--", "^-.", "v:"), strict=False):
        points = sorted((n, x["bytes"] / 1024) for w, n, x in runs if w == workload and x)
        axes.plot([n for n, _ in points], [kb for _, kb in points], style, label=workload, alpha=0.8)
    axes.axhline(64, color="grey", linestyle=":", label="target: 64 KB")
    axes.set(xscale="log", yscale="log", xlabel="images (N)", ylabel="KB", title="Largest XCom value of a run")
    axes.legend(fontsize=8)


def write(results: dict[str, Any], stem: str, latest: bool, docs_png: Path) -> tuple[Path, Path]:
    """The dated JSON and plot; with `latest`, also `latest.json` and the README's plot."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    json_path, png_path = RESULTS_DIR / f"{stem}.json", RESULTS_DIR / f"{stem}.png"
    json_path.write_text(json.dumps(results, indent=1, sort_keys=True, default=str))
    plot(results, png_path)
    if latest:
        shutil.copyfile(json_path, LATEST)
        docs_png.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(png_path, docs_png)
    return json_path, png_path


if __name__ == "__main__":
    print(markdown(json.loads(Path(sys.argv[1] if len(sys.argv) > 1 else LATEST).read_text())))
