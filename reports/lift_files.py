"""The lift report of `python -m training lift`: a readable table for the terminal, lift.html and lift.json."""

from __future__ import annotations

import json
from pathlib import Path

from reports.lift import METRICS
from reports.lift_html import render_lift_html

STAGE_W = 16


def write_lift_report(report: dict, out_dir: Path | str) -> tuple[Path, Path]:
    """Write lift.html (the page) and lift.json (every figure) into `out_dir`; returns their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    html_path, json_path = out_dir / "lift.html", out_dir / "lift.json"
    json_path.write_text(json.dumps(report, indent=1, allow_nan=False))
    html_path.write_text(render_lift_html(report))
    return html_path, json_path


def format_table(report: dict) -> str:
    """The report as text: per placement its headlines, then one line per segment (all stages, each stage)."""
    lines = [
        f"Lift over the holdout, decisions {report['since']} to {report['until']} (intention to treat, 95% CI); "
        f"response = {','.join(report['reward_types'])} within {report['window_hours']:g} h, "
        f"conversion = {report['conversion_stage']} within {report['conversion_window_days']:g} d"
    ]
    for entry in report["placements"]:
        policies = ", ".join(f"{k} {v:,}" for k, v in entry["policies"].items())
        response = ",".join(entry["reward_types"])
        lines += ["", f"{entry['placement']}  (response = {response}; decisions by policy: {policies})"]
        lines += [f"  * {line}" for line in entry["headlines"]]
        lines.append(
            f"  {'stage':<{STAGE_W}} {'decisions p/h':>15} {'impressions p/h':>17}  "
            + "  ".join(f"{words:<36}" for words, _ in METRICS.values()).rstrip()
        )
        lines += [f"  {_segment_line(segment)}" for segment in (entry["overall"], *entry["stages"])]
    lines += ["", "p/h: personalized/holdout; lift in pts (value: per decision) [95% CI]; * the CI excludes 0"]
    if report["notes"]:
        lines += ["", *(f"note: {note}" for note in report["notes"])]
    return "\n".join(lines)


def _segment_line(segment: dict) -> str:
    p, h = segment["personalized"], segment["holdout"]
    start = f"{segment['stage']:<{STAGE_W}} {p['decisions']:>7,}/{h['decisions']:<7,} "
    start += f"{p['impressions']:>8,}/{h['impressions']:<8,}  "
    if segment["status"] != "ok":
        return start + f"insufficient data: {segment['reason']}"
    return start + "  ".join(_cell(segment["metrics"][key], key) for key in METRICS).rstrip()


def _cell(metric: dict, key: str) -> str:
    if metric["status"] != "ok":
        return f"{'insufficient data':<36}"
    if key == "value_per_decision":
        places = 0 if max(abs(metric["personalized"]), abs(metric["holdout"])) >= 100 else 2
        figures = f"{metric['personalized']:,.{places}f} vs {metric['holdout']:,.{places}f}"
        lift = _interval(metric, lambda v: f"{v:+,.{places}f}")
    else:
        figures = f"{metric['personalized']:.1%} vs {metric['holdout']:.1%}"
        lift = _interval(metric, lambda v: f"{v * 100:+.1f}")
    mark = "*" if metric["significant"] else " "
    return f"{figures} {lift}{mark}".ljust(36)


def _interval(metric: dict, form) -> str:
    ci = metric["ci"]
    return f"{form(metric['absolute_lift'])} [{form(ci[0])},{form(ci[1])}]" if ci else form(metric["absolute_lift"])
