"""The benchmark's outputs: a table on stdout, `bench/results/<date>-<commit>.json` and `.png`, and
`docs/bench.png` for the README."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

MB = 1024 * 1024
COLUMNS = (
    ("workload", "{workload}"), ("N", "{n}"), ("wall s", "{wall_seconds:.1f}"),
    ("processing s", "{processing_seconds:.1f}"), ("images/s", "{images_per_second:.1f}"),
    ("limit/s", "{limit_images_per_second:.1f}"), ("ratio", "{limit_ratio:.0%}"),
    ("(wall-P)/N ms", "{overhead_ms:.1f}"), ("submit/img", "{submission:.3f}"), ("status/img", "{status:.3f}"),
    ("result/img", "{result:.2f}"), ("other/img", "{other:.2f}"), ("429s", "{status_429}"),
    ("failed", "{failed_images}"), ("credits/img", "{credits_per_image:.2f}"),
    ("CPU ms/img", "{cpu_ms_per_image:.1f}"), ("peak RSS MB", "{peak_rss_mb:.0f}"),
    ("busiest process", "{busiest}"),
)  # fmt: skip


def row_values(row: dict[str, Any], processing_seconds: float) -> dict[str, Any]:
    workers = [p for p in row["processes"] if p["role"] not in ("s3",)]
    busiest = max(workers, key=lambda p: p["cpu_seconds"], default=None)
    return {
        **row,
        **row["calls_per_image"],
        "overhead_ms": 1000 * (row["wall_seconds"] - processing_seconds) / row["n"],
        "peak_rss_mb": max((p["rss_bytes"] for p in workers), default=0) / MB,
        "busiest": f"{busiest['name'][:28]} {busiest['rss_bytes'] / MB:.0f} MB" if busiest else "-",
    }


def table(rows: list[dict[str, Any]], processing_seconds: float) -> str:
    """A Markdown table: prints well in a terminal and pastes into the README."""
    cells = [[fmt.format(**row_values(row, processing_seconds)) for _, fmt in COLUMNS] for row in rows]
    header = "| " + " | ".join(name for name, _ in COLUMNS) + " |"
    rule = "|" + "|".join("---" for _ in COLUMNS) + "|"
    return "\n".join([header, rule, *("| " + " | ".join(line) + " |" for line in cells)])


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


def plot(rows: list[dict[str, Any]], processing_seconds: float, path: Path) -> None:
    async_rows = sorted((r for r in rows if r["workload"] == "carcutter-async"), key=lambda r: r["n"])
    naive = next((r for r in rows if r["workload"] == "naive"), None)
    figure, (rate, overhead) = plt.subplots(1, 2, figsize=(11, 4.2))
    sizes = [r["n"] for r in async_rows]
    rate.plot(sizes, [r["images_per_second"] for r in async_rows], "o-", label="vehicle_listings DAG (DAG run wall)")
    rate.plot(sizes, [r["processing_images_per_second"] for r in async_rows], "s--",
              label="process_carcutter_images span")  # fmt: skip
    rate.plot(sizes, [r["limit_images_per_second"] for r in async_rows], "kx:", label="limit: P + moving the bytes")
    if naive:
        rate.axhline(naive["images_per_second"], color="tab:red", label=f"naive client (N={naive['n']})")
        rate.axhline(20 * naive["images_per_second"], color="tab:red", linestyle="--", label="20 x naive (target)")
    rate.set(xscale="log", yscale="log", xlabel="images (N)", ylabel="images per second",
             title="Car-Cutter async, P = 2 s")  # fmt: skip
    rate.legend(fontsize=8)
    overhead.plot(sizes, [1000 * (r["wall_seconds"] - processing_seconds) / r["n"] for r in async_rows], "o-",
                  label="(DAG wall - P) / N")  # fmt: skip
    overhead.plot(sizes, [1000 * (r["processing_seconds"] - processing_seconds) / r["n"] for r in async_rows],
                  "s--", label="(processing span - P) / N")  # fmt: skip
    overhead.plot(sizes, [r["cpu_ms_per_image"] for r in async_rows], "^-.", label="Airflow CPU per image")
    overhead.axhline(5, color="grey", linestyle=":", label="target at N = 6,000: 5 ms")
    overhead.set(xscale="log", yscale="log", xlabel="images (N)", ylabel="ms per image", title="Per-image overhead")
    overhead.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write(results: dict[str, Any], out_dir: Path, stem: str, docs_png: Path | None) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, png_path = out_dir / f"{stem}.json", out_dir / f"{stem}.png"
    json_path.write_text(json.dumps(results, indent=1, sort_keys=True, default=str))
    plot(results["rows"], results["processing_seconds"], png_path)
    if docs_png:
        docs_png.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(png_path, docs_png)
    return json_path, png_path
