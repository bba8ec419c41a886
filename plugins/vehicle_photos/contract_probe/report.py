"""The probe's table as text (printed), JSON and HTML (written to S3), with every secret of the run removed."""

from __future__ import annotations

import html
import json
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from vehicle_photos.contract_probe.checks import AS_ASSUMED, Check

COLUMNS = (("guess", 30), ("what we assume", 36), ("what the service did", 44), ("verdict", 12), ("setting", 36))

# Guesses no probe run can see at its cost, and what the project keeps doing about them.
NOT_MEASURABLE = (
    ("Car-Cutter bills at submission, also for images that end in error", "no balance endpoint; the records count "
     "one credit per accepted URL"),
    ("Car-Cutter webhooks reach the deployment", "needs a public receiver; the DAGs poll status instead"),
    ("Car-Cutter result expiry (24 h in the stand-in)", "a day's wait; results are downloaded as soon as final"),
    ("Clipping Magic production SVG / alpha-mask downloads share the result's credit", "costs credits; "
     "clippingmagic_extra_outputs_cost_credits stays True (the safe estimate)"),
    ("Rate limits (429, Retry-After)", "needs load; the hooks back off as documented"),
)  # fmt: skip


@dataclass
class ProbeReport:
    started: str
    endpoints: dict[str, str]
    spent_carcutter_credits: int
    checks: list[Check]
    observations: dict[str, Any] = field(default_factory=dict)

    def verdicts(self) -> dict[str, str]:
        return {check.key: check.verdict for check in self.checks}

    def to_dict(self) -> dict[str, Any]:
        return {
            "started": self.started,
            "endpoints": self.endpoints,
            "spent_carcutter_credits": self.spent_carcutter_credits,
            "spent_clippingmagic_credits": 0,
            "checks": [check.to_dict() for check in self.checks],
            "not_measurable": [{"guess": guess, "why": why} for guess, why in NOT_MEASURABLE],
            "observations": self.observations,
        }


def setting_shown(check: Check) -> str:
    return "-" if check.verdict == AS_ASSUMED else check.setting


def text_table(report: ProbeReport) -> str:
    rows = [
        [check.guess, check.assumed, check.observed, check.verdict, setting_shown(check)] for check in report.checks
    ]
    header = [name for name, _ in COLUMNS]
    lines = [_row(header), _row(["-" * width for _, width in COLUMNS])]
    for row in rows:
        lines.append(_row(row))
    lines.append("")
    lines.append("Not measurable at this cost:")
    lines.extend(f"  - {guess}: {why}" for guess, why in NOT_MEASURABLE)
    return "\n".join(lines)


def _row(cells: Sequence[str]) -> str:
    wrapped = [textwrap.wrap(cell, width) or [""] for cell, (_, width) in zip(cells, COLUMNS, strict=True)]
    height = max(len(lines) for lines in wrapped)
    out = []
    for index in range(height):
        parts = [
            (lines[index] if index < len(lines) else "").ljust(width)
            for lines, (_, width) in zip(wrapped, COLUMNS, strict=True)
        ]
        out.append(" | ".join(parts).rstrip())
    return "\n".join(out)


def html_page(report: ProbeReport) -> str:
    def cells(values: Iterable[str], tag: str = "td") -> str:
        return "".join(f"<{tag}>{html.escape(value)}</{tag}>" for value in values)

    rows = "\n".join(
        f'<tr class="{html.escape(check.verdict.replace(" ", "-"))}">'
        + cells([check.service, check.guess, check.assumed, check.observed, check.verdict, setting_shown(check)])
        + "</tr>"
        for check in report.checks
    )
    unmeasured = "".join(f"<li>{html.escape(guess)}: {html.escape(why)}</li>" for guess, why in NOT_MEASURABLE)
    endpoints = ", ".join(f"{name} {url}" for name, url in report.endpoints.items())
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Contract probe {html.escape(report.started)}</title>
<style>body{{font-family:sans-serif}}td,th{{border:1px solid #ccc;padding:4px;vertical-align:top}}
table{{border-collapse:collapse}}.differs{{background:#fde2e2}}.not-measured{{color:#777}}</style></head>
<body><h1>Contract probe, {html.escape(report.started)}</h1>
<p>{html.escape(endpoints)}; Car-Cutter credits spent: {report.spent_carcutter_credits}; Clipping Magic credits
spent: 0 (test mode).</p>
<table><tr>{cells(["service", *[name for name, _ in COLUMNS]], "th")}</tr>
{rows}
</table>
<h2>Not measurable at this cost</h2><ul>{unmeasured}</ul>
</body></html>
"""


def redacted(text: str, secrets: Iterable[str]) -> str:
    """`text` without any of `secrets` (tokens, keys, signed URLs and their signatures)."""
    for secret in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def json_text(report: ProbeReport) -> str:
    return json.dumps(report.to_dict(), indent=2, sort_keys=False)
