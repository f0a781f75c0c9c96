"""The journey report as one self-contained HTML file: inline SVG plots of the figures from reports.analytics."""

from __future__ import annotations

import datetime as dt
import html
import json
import math
from pathlib import Path

from reports.analytics import journeys_line
from reports.journey_findings import duration_text

IN_MAP, OFF_MAP, EXIT_COLOUR, DESIGNED = "#2b6cb0", "#dd6b20", "#a0aec0", "#1a202c"
PALETTE = ["#2b6cb0", "#dd6b20", "#38a169", "#d53f8c", "#805ad5", "#d69e2e", "#319795", "#e53e3e", "#718096", "#975a16"]
MIN_DRAWN_SHARE = 0.01
"""Moves under this share of their stage's departures are left out of the flow diagram (they stay in the matrix)."""
BOX_W, BOX_H, STEP, LEFT = 136, 64, 240, 180
ARROW, DASH = "\u2192", "\u2013"

CSS = """
body{font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:#1a202c;max-width:1180px;margin:24px auto;
padding:0 16px}
h1{font-size:26px;margin-bottom:4px}
h2{font-size:20px;margin-top:36px;border-bottom:2px solid #e2e8f0;padding-bottom:4px}
h3{font-size:16px;margin:18px 0 6px}.what{color:#4a5568;margin:4px 0 12px}.muted{color:#718096;font-size:13px}
.findings li{margin:6px 0}.findings{background:#fffaf0;border-left:4px solid #dd6b20;padding:10px 10px 10px 32px}
table{border-collapse:collapse;margin:8px 0;font-size:14px}th,td{padding:4px 9px;border-bottom:1px solid #e2e8f0;
text-align:right}th:first-child,td:first-child{text-align:left}th{background:#f7fafc}
td.off{box-shadow:inset 0 0 0 2px #dd6b20}td.path{text-align:left;font-family:ui-monospace,monospace;font-size:13px}
.grid{display:flex;flex-wrap:wrap;gap:18px}.bar{display:inline-block;height:10px;vertical-align:middle}
.key span{display:inline-block;margin-right:14px}.sw{display:inline-block;width:12px;height:12px;margin-right:4px;
vertical-align:-1px}svg text{font-family:system-ui,sans-serif}
"""


def write_report(figures: dict, out_dir: Path | str) -> tuple[Path, Path]:
    """Write report.html and report.json (every figure) into `out_dir`; returns their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, html_path = out_dir / "report.json", out_dir / "report.html"
    json_path.write_text(json.dumps(figures, indent=1, allow_nan=False))
    html_path.write_text(render_html(figures))
    return html_path, json_path


def render_html(figures: dict) -> str:
    """The whole report page."""
    summary = figures["summary"]
    sections = [
        _header(figures),
        _findings(figures),
        _section(
            "Stage flow: the real journey over the designed map",
            "Each arrow is a move between stages; its width is the number of moves. Blue moves are in the designed "
            "map, orange ones are not (skips, moves back, entries further down), grey ones leave the journey. The "
            "dashed line is the map as designed.",
            _flow_svg(figures) if summary["visitors_with_stage"] else _empty(),
        ),
        _section(
            "Transition matrix",
            "Moves from each stage (rows) to the next touchpoint's stage (columns): count and share of the row. "
            "Outlined cells are moves the designed map does not have.",
            _matrix_table(figures),
        ),
        _section(
            "Funnel",
            "Journeys that reached each stage or a later one, the share that went on to the next, and how many "
            "skipped the stage or ended there.",
            _funnel_svg(figures) if summary["visitors_with_stage"] else _empty(),
        ),
        _section(
            "Time spent in each stage",
            "How long a stay in a stage lasts: from its first touchpoint to the first touchpoint of another stage. "
            "Journeys still in the stage at the end of the data are not counted.",
            _time_charts(figures),
        ),
        _section(
            "Most common paths",
            "Stage sequences (and touchpoint sequences) before converting or leaving, repeats collapsed; "
            "the longest are cut to their last steps (\u2026).",
            _paths_tables(figures),
        ),
        _section(
            "Channel mix per stage",
            "Which channels carry each stage's touchpoints, where journeys first came from, and how many converting "
            "journeys used more than one channel or device.",
            _channels(figures),
        ),
        _section(
            "Touchpoints associated with converting",
            "Conversion rate of journeys that had each touchpoint before converting, against those that did not. "
            + figures["touchpoints"]["note"],
            _touchpoints_table(figures),
        ),
        _section(
            "Event types the journey map does not know",
            "Touchpoint types in the data that the map neither assigns to a stage nor lists as outcomes.",
            _unknown_table(figures),
        ),
        _definitions(figures),
    ]
    title = "Journey report: the real journey beside the designed one"
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>"
        f"<meta name='viewport' content='width=device-width,initial-scale=1'><style>{CSS}</style></head>"
        f"<body>{''.join(sections)}</body></html>\n"
    )


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _pct(share: float | None) -> str:
    return "\u2013" if share is None else f"{share:.0%}" if share >= 0.1 or share == 0 else f"{share:.1%}"


def _section(title: str, what: str, body: str) -> str:
    return f"<section><h2>{_e(title)}</h2><p class='what'>{_e(what)}</p>{body}</section>"


def _empty() -> str:
    return "<p class='muted'>No stage-bearing touchpoints in the selected data.</p>"


def _header(figures: dict) -> str:
    s = figures["summary"]
    filters = s["filters"]
    chosen = [f"{k} {v}" for k, v in filters.items() if v is not None]
    period = f"{_day(s['first_event'])} to {_day(s['last_event'])}" if s["first_event"] else "no events"
    return (
        "<h1>Journey report</h1>"
        f"<p class='what'>{s['events']:,} touchpoints of {s['visitors']:,} journeys, {period}: "
        f"{_e(journeys_line(s))}. "
        f"{s['converting']:,} journeys reached {_e(figures['conversion_stage'])} "
        f"({_pct(s['conversion_rate'])}). Designed stages: {_e(f' {ARROW} '.join(figures['stages']))}."
        f"{' Filters: ' + _e(', '.join(chosen)) + '.' if chosen else ''}</p>"
    )


def _day(iso: str | None) -> str:
    return iso[:10] if iso else "\u2013"


def _findings(figures: dict) -> str:
    items = "".join(f"<li>{_e(f['text'])}</li>" for f in figures["findings"][:8])
    body = f"<ul class='findings'>{items}</ul>" if items else _empty()
    return _section(
        "Where the real journey departs from the map",
        "The biggest differences between the journey customers took and the stage order the map designs.",
        body,
    )


def _flow_svg(figures: dict) -> str:
    stages = figures["stages"]
    moves = [m for m in figures["transitions"]["moves"] if m["count"]]
    drawn = [m for m in moves if m["kind"] == "stay" or (m["share_of_departures"] or 0) >= MIN_DRAWN_SHARE]
    top_moves = [m for m in drawn if m["kind"] in ("skip", "late_entry")]
    back_moves = [m for m in drawn if m["kind"] == "back"]
    index = {stage: i for i, stage in enumerate(stages)}
    index["entry"] = -1
    rise = 40 + 34 * max([abs(index[m["to"]] - index[m["from"]]) for m in top_moves] or [0])
    dip = 40 + 34 * max([abs(index[m["to"]] - index[m["from"]]) for m in back_moves] or [0])
    top, width = rise + 30, LEFT + len(stages) * STEP
    exit_y = top + BOX_H + dip + 40
    height = exit_y + 56
    widest = max([m["count"] for m in moves if m["kind"] != "stay"] or [1])
    visited = {row["stage"]: row["visitors"] for row in figures["funnel"]}
    cx = {stage: LEFT + i * STEP + BOX_W / 2 for i, stage in enumerate(stages)}
    cy = top + BOX_H / 2
    parts = []

    def stroke(count: int) -> float:
        return 1.2 + 16 * count / widest

    for m in drawn:
        kind = m["kind"]
        colour = IN_MAP if m["in_map"] else EXIT_COLOUR if kind == "exit" else OFF_MAP
        w = stroke(m["count"])
        label = f"{m['count']:,} \u00b7 {_pct(m['share_of_departures'])}"
        if kind in ("entry", "next"):
            x0 = 68 if kind == "entry" else cx[m["from"]] + BOX_W / 2
            x1 = cx[m["to"]] - BOX_W / 2
            parts.append(_arrow([(x0, cy), (x1, cy)], colour, w))
            parts.append(_label((x0 + x1) / 2, cy - w / 2 - 6, label))
        elif kind in ("skip", "late_entry"):
            x0 = 40 if kind == "late_entry" else cx[m["from"]] + 24
            y0 = cy - 14 if kind == "late_entry" else top
            x1 = cx[m["to"]] - 24
            span = index[m["to"]] - index[m["from"]]
            ctrl = ((x0 + x1) / 2, top - 40 - 34 * span)
            parts.append(_arrow([(x0, y0), ctrl, (x1, top)], colour, w))
            parts.append(_label(0.25 * x0 + 0.5 * ctrl[0] + 0.25 * x1, 0.25 * y0 + 0.5 * ctrl[1] + 0.25 * top, label))
        elif kind == "back":
            x0, x1, y = cx[m["from"]] - 24, cx[m["to"]] + 8, top + BOX_H
            span = index[m["from"]] - index[m["to"]]
            ctrl = ((x0 + x1) / 2, y + 40 + 34 * span)
            parts.append(_arrow([(x0, y), ctrl, (x1, y)], colour, w))
            parts.append(_label((x0 + x1) / 2, 0.5 * y + 0.5 * ctrl[1] + 4, label))
        elif kind == "exit":
            x = cx[m["from"]] + BOX_W / 2 - 22
            parts.append(_arrow([(x, top + BOX_H), (x, exit_y)], colour, w))
            parts.append(_label(x, exit_y + 16, f"exit {label}"))
    # the designed map, drawn over the observed moves
    designed = [(40 + 28, cx[stages[0]] - BOX_W / 2)]
    designed += [(cx[a] + BOX_W / 2, cx[b] - BOX_W / 2) for a, b in zip(stages, stages[1:])]
    for x0, x1 in designed:
        parts.append(
            f"<line x1='{x0:.1f}' y1='{cy:.1f}' x2='{x1:.1f}' y2='{cy:.1f}' stroke='{DESIGNED}' stroke-width='1.6' "
            "stroke-dasharray='6 4'/>"
        )
    parts.append(
        f"<circle cx='40' cy='{cy:.1f}' r='26' fill='#edf2f7' stroke='#4a5568'/>"
        f"<text x='40' y='{cy + 5:.1f}' text-anchor='middle' font-size='13' font-weight='600'>start</text>"
    )
    stays = {m["from"]: m for m in moves if m["kind"] == "stay"}
    for stage in stages:
        x, stay = cx[stage] - BOX_W / 2, stays.get(stage)
        parts.append(
            f"<rect x='{x:.1f}' y='{top}' width='{BOX_W}' height='{BOX_H}' rx='8' fill='#fff' stroke='#2d3748' "
            "stroke-width='1.5'/>"
            f"<text x='{cx[stage]:.1f}' y='{top + 22}' text-anchor='middle' font-size='14' font-weight='700'>"
            f"{_e(stage)}</text>"
            f"<text x='{cx[stage]:.1f}' y='{top + 40}' text-anchor='middle' font-size='12'>"
            f"{visited[stage]:,} journeys</text>"
            f"<text x='{cx[stage]:.1f}' y='{top + 56}' text-anchor='middle' font-size='11' fill='#4a5568'>"
            f"stay \u21bb {_pct(stay['probability']) if stay else '0%'}</text>"
        )
    parts.append(
        f"<line x1='120' y1='{exit_y}' x2='{width - 20}' y2='{exit_y}' stroke='{EXIT_COLOUR}' stroke-dasharray='2 3'/>"
    )
    legend = (
        "<p class='key'>"
        f"<span><i class='sw' style='background:{IN_MAP}'></i>move in the designed map</span>"
        f"<span><i class='sw' style='background:{OFF_MAP}'></i>move the map does not have</span>"
        f"<span><i class='sw' style='background:{EXIT_COLOUR}'></i>leaves the journey</span>"
        "<span>- - - the designed map</span>"
        "<span class='muted'>labels: moves \u00b7 share of the moves out of that stage; "
        f"moves under {MIN_DRAWN_SHARE:.0%} of a stage's departures are in the matrix only</span></p>"
    )
    svg = (
        f"<svg viewBox='0 0 {width} {height}' width='100%' role='img' aria-label='stage flow diagram'>"
        f"{''.join(parts)}</svg>"
    )
    return legend + svg


def _arrow(points: list[tuple[float, float]], colour: str, width: float) -> str:
    """A straight (2 points) or curved (3 points: start, control, end) arrow with a head sized to its width."""
    (x0, y0), (x1, y1) = points[0], points[-1]
    head = max(9.0, width * 1.5)
    bx, by = points[-2]
    length = math.hypot(x1 - bx, y1 - by) or 1.0
    ux, uy = (x1 - bx) / length, (y1 - by) / length
    ex, ey = x1 - ux * head * 0.8, y1 - uy * head * 0.8  # stop the shaft inside the head
    if len(points) == 2:
        shaft = f"M{x0:.1f},{y0:.1f} L{ex:.1f},{ey:.1f}"
    else:
        (qx, qy) = points[1]
        shaft = f"M{x0:.1f},{y0:.1f} Q{qx:.1f},{qy:.1f} {ex:.1f},{ey:.1f}"
    px, py = -uy * head * 0.6, ux * head * 0.6
    base_x, base_y = x1 - ux * head, y1 - uy * head
    tip = f"{x1:.1f},{y1:.1f} {base_x + px:.1f},{base_y + py:.1f} {base_x - px:.1f},{base_y - py:.1f}"
    return (
        f"<path d='{shaft}' fill='none' stroke='{colour}' stroke-width='{width:.1f}' stroke-opacity='0.85'/>"
        f"<polygon points='{tip}' fill='{colour}'/>"
    )


def _label(x: float, y: float, text: str) -> str:
    return (
        f"<text x='{x:.1f}' y='{y:.1f}' text-anchor='middle' font-size='12' paint-order='stroke' stroke='#fff' "
        f"stroke-width='4' stroke-linejoin='round'>{_e(text)}</text>"
    )


def _matrix_table(figures: dict) -> str:
    t = figures["transitions"]
    in_map = {(m["from"], m["to"]): m["in_map"] or m["kind"] == "exit" for m in t["moves"]}
    head = "".join(f"<th>{_e(target)}</th>" for target in t["to"])
    rows = []
    for source in t["from"]:
        cells = []
        for target in t["to"]:
            count, p = t["counts"][source][target], t["probabilities"][source][target]
            off = count and not in_map.get((source, target), True)
            shade = f"background:rgba(43,108,176,{0.08 + 0.6 * (p or 0):.2f})" if count else ""
            cells.append(
                f"<td class='{'off' if off else ''}' style='{shade}'>{count:,}<br>"
                f"<span class='muted'>{_pct(p) if count else ''}</span></td>"
            )
        rows.append(f"<tr><th>{_e(source)} \u2192</th>{''.join(cells)}</tr>")
    return f"<table><tr><th>from \\ to</th>{head}</tr>{''.join(rows)}</table>"


def _funnel_svg(figures: dict) -> str:
    funnel = figures["funnel"]
    total = max(funnel[0]["reached_at_least"], max(row["reached_at_least"] for row in funnel), 1)
    bar_x, bar_w, row_h = 150, 560, 58
    parts = [
        f"<text x='{bar_x}' y='16' font-size='12' fill='#4a5568'>journeys that reached the stage or a later one</text>"
    ]
    for i, row in enumerate(funnel):
        y = 28 + i * row_h
        w = bar_w * row["reached_at_least"] / total
        visited_w = bar_w * row["visitors"] / total
        nxt = f"\u2192 {_pct(row['conversion_to_next'])} go on" if row["conversion_to_next"] is not None else ""
        parts.append(
            f"<text x='{bar_x - 10}' y='{y + 19}' text-anchor='end' font-size='14' font-weight='600'>"
            f"{_e(row['stage'])}</text>"
            f"<rect x='{bar_x}' y='{y}' width='{w:.1f}' height='26' fill='#bee3f8'/>"
            f"<rect x='{bar_x}' y='{y}' width='{visited_w:.1f}' height='26' fill='{IN_MAP}'/>"
            f"<text x='{bar_x + w + 8:.1f}' y='{y + 18}' font-size='13' font-weight='600'>"
            f"{row['reached_at_least']:,} ({_pct(row['reached_at_least'] / total)}) {nxt}</text>"
            f"<text x='{bar_x}' y='{y + 42}' font-size='12' fill='#4a5568'>visited {row['visitors']:,} \u00b7 "
            f"skipped {row['skipped']:,} \u00b7 ended here {row['ended_here']:,}</text>"
        )
    height = 28 + len(funnel) * row_h
    key = (
        f"<p class='key'><span><i class='sw' style='background:{IN_MAP}'></i>visited the stage</span>"
        "<span><i class='sw' style='background:#bee3f8'></i>reached a later stage without visiting it</span></p>"
    )
    return key + f"<svg viewBox='0 0 980 {height}' width='100%' role='img' aria-label='funnel'>{''.join(parts)}</svg>"


def _time_charts(figures: dict) -> str:
    charts = []
    for row in figures["funnel"]:
        times = row["time_in_stage"]
        title = (
            f"{row['stage']}: median {duration_text(times['median_s'])}, 90th percentile "
            f"{duration_text(times['p90_s'])}"
        )
        note = f"{times['stays']:,} stays ended; {times['still_in_stage']:,} still in the stage"
        bars = [(b["label"], b["count"]) for b in times["histogram"]]
        charts.append(
            f"<div><h3>{_e(title)}</h3><p class='muted'>{_e(note)}</p>"
            f"{_bar_chart(bars, 'time in stage', 'stays')}</div>"
        )
    return f"<div class='grid'>{''.join(charts)}</div>"


def _bar_chart(bars: list[tuple[str, int]], x_title: str, y_title: str) -> str:
    """A small vertical bar chart with the number on each bar and titled axes."""
    width, height, left, bottom = 520, 210, 46, 44
    plot_h, slot = height - bottom - 22, (width - left - 10) / max(len(bars), 1)
    peak = max([n for _, n in bars] or [1]) or 1
    parts = [
        f"<line x1='{left}' y1='{height - bottom}' x2='{width - 6}' y2='{height - bottom}' stroke='#4a5568'/>",
        f"<line x1='{left}' y1='14' x2='{left}' y2='{height - bottom}' stroke='#4a5568'/>",
        f"<text x='{left - 6}' y='{height - bottom}' text-anchor='end' font-size='11'>0</text>",
        f"<text x='{left - 6}' y='{height - bottom - plot_h + 4:.1f}' text-anchor='end' font-size='11'>{peak:,}</text>",
        f"<text x='{(left + width) / 2:.1f}' y='{height - 6}' text-anchor='middle' font-size='12' fill='#4a5568'>"
        f"{_e(x_title)}</text>",
        f"<text x='12' y='{(height - bottom) / 2:.1f}' text-anchor='middle' font-size='12' fill='#4a5568' "
        f"transform='rotate(-90 12 {(height - bottom) / 2:.1f})'>{_e(y_title)}</text>",
    ]
    for i, (label, n) in enumerate(bars):
        h = plot_h * n / peak
        x = left + i * slot + 4
        parts.append(
            f"<rect x='{x:.1f}' y='{height - bottom - h:.1f}' width='{slot - 8:.1f}' height='{h:.1f}' "
            f"fill='{IN_MAP}'/>"
            f"<text x='{x + (slot - 8) / 2:.1f}' y='{height - bottom - h - 4:.1f}' text-anchor='middle' "
            f"font-size='11'>{n:,}</text>"
            f"<text x='{x + (slot - 8) / 2:.1f}' y='{height - bottom + 15}' text-anchor='middle' font-size='11'>"
            f"{_e(label)}</text>"
        )
    return f"<svg viewBox='0 0 {width} {height}' width='{width}' role='img'>{''.join(parts)}</svg>"


def _paths_tables(figures: dict) -> str:
    conversion = figures["conversion_stage"]
    out = []
    for kind, title in (("stages", "Stage"), ("touchpoints", "Touchpoint")):
        paths = figures["paths"][kind]
        for key, heading in (("to_conversion", f"paths to {conversion}"), ("to_drop_off", "paths to drop-off")):
            rows = "".join(
                f"<tr><td class='path'>{_e(row['path'] or '(none)')}</td><td>{row['journeys']:,}</td>"
                f"<td>{row['conversions']:,}</td><td>{row['drop_offs']:,}</td><td>{_pct(row['conversion_rate'])}</td>"
                f"<td>{_pct(row['share'])}</td></tr>"
                for row in paths[key]
            )
            share = "of conversions" if key == "to_conversion" else "of drop-offs"
            out.append(
                f"<h3>{_e(title)} {_e(heading)}</h3><table><tr><th>path</th><th>journeys</th><th>converted</th>"
                f"<th>left</th><th>conversion rate</th><th>{share}</th></tr>{rows}</table>"
            )
        out.append(f"<p class='muted'>{paths['distinct_paths']:,} distinct {title.lower()} paths.</p>")
    return "".join(out)


def _channels(figures: dict) -> str:
    channels = figures["channels"]
    colour = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(channels["names"])}
    bar_x, bar_w, row_h = 150, 700, 36
    parts = []
    for i, row in enumerate(channels["per_stage"]):
        y, x = 8 + i * row_h, float(bar_x)
        parts.append(
            f"<text x='{bar_x - 10}' y='{y + 18}' text-anchor='end' font-size='14' font-weight='600'>"
            f"{_e(row['stage'])}</text>"
            f"<text x='{bar_x + bar_w + 8}' y='{y + 18}' font-size='12' fill='#4a5568'>{row['events']:,} events</text>"
        )
        for name, share in row["shares"].items():
            w = bar_w * share
            parts.append(f"<rect x='{x:.1f}' y='{y}' width='{w:.1f}' height='24' fill='{colour[name]}'/>")
            if share >= 0.06:
                parts.append(
                    f"<text x='{x + w / 2:.1f}' y='{y + 17}' text-anchor='middle' font-size='11' fill='#fff'>"
                    f"{_pct(share)}</text>"
                )
            x += w
    height = 16 + len(channels["per_stage"]) * row_h
    key = "".join(
        f"<span><i class='sw' style='background:{colour[name]}'></i>{_e(name)}</span>" for name in channels["names"]
    )
    cross = channels["cross_channel"]
    first = ", ".join(f"{_e(name)} {count:,}" for name, count in channels["first_touch"].items())
    facts = (
        "<table>"
        f"<tr><td>converting journeys</td><td>{cross['converting_journeys']:,}</td></tr>"
        f"<tr><td>\u2026 that used more than one channel</td><td>{cross['converting_multi_channel']:,} "
        f"({_pct(cross['converting_multi_channel_share'])})</td></tr>"
        f"<tr><td>conversion rate, multi-channel journeys</td><td>{_pct(cross['multi_channel_conversion_rate'])}</td>"
        f"</tr><tr><td>conversion rate, single-channel journeys</td>"
        f"<td>{_pct(cross['single_channel_conversion_rate'])}</td></tr>"
        f"<tr><td>converting journeys of known persons (user_id or a linked device)</td>"
        f"<td>{cross['converting_known_users']:,}</td></tr>"
        f"<tr><td>\u2026 of a person who used more than one device</td><td>{cross['converting_multi_device']:,} "
        f"({_pct(cross['converting_multi_device_share'])})</td></tr></table>"
        f"<p>First touch of each journey, by channel: {first or DASH}.</p>"
    )
    svg = f"<svg viewBox='0 0 980 {height}' width='100%' role='img' aria-label='channel mix'>{''.join(parts)}</svg>"
    return f"<p class='key'>{key}</p>{svg}{facts}"


def _touchpoints_table(figures: dict) -> str:
    rows = []
    for row in figures["touchpoints"]["types"][:25]:
        with_w = 120 * (row["conversion_rate_with"] or 0)
        without_w = 120 * (row["conversion_rate_without"] or 0)
        lift = "\u2013" if row["lift"] is None else f"\u00d7{row['lift']:.2f}"
        rows.append(
            f"<tr><td>{_e(row['type'])}</td><td>{_e(row['stage'] or DASH)}</td><td>{row['journeys']:,}</td>"
            f"<td>{_pct(row['conversion_rate_with'])} <i class='bar' style='width:{with_w:.0f}px;"
            f"background:{IN_MAP}'></i></td><td>{_pct(row['conversion_rate_without'])} <i class='bar' "
            f"style='width:{without_w:.0f}px;background:{EXIT_COLOUR}'></i></td><td>{lift}</td></tr>"
        )
    if not rows:
        return _empty()
    return (
        "<table><tr><th>touchpoint</th><th>stage</th><th>journeys with it</th><th>conversion with</th>"
        f"<th>conversion without</th><th>ratio</th></tr>{''.join(rows)}</table>"
    )


def _unknown_table(figures: dict) -> str:
    unknown = figures["unknown_event_types"]
    if not unknown:
        return "<p>None: every event type is in the map (as a stage's touchpoint or an outcome).</p>"
    rows = "".join(
        f"<tr><td>{_e(row['type'])}</td><td>{row['events']:,}</td><td>{row['visitors']:,}</td></tr>" for row in unknown
    )
    return f"<table><tr><th>event type</th><th>events</th><th>journeys</th></tr>{rows}</table>"


def _definitions(figures: dict) -> str:
    made = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        "<section><h2>How to read this</h2><ul class='muted'>"
        "<li>A journey is one visitor_id. Its stages are those of its touchpoints, in time order, as the journey "
        "map assigns them; outcomes (e.g. clicks) and unknown types carry no stage.</li>"
        "<li>The designed map expects entry at the first stage, staying in a stage and moving on to the next one. "
        "Skips forward, moves back and entries at a later stage are moves the map does not have.</li>"
        f"<li>A journey converts when it reaches {_e(figures['conversion_stage'])}. Paths and touchpoint "
        "associations use only what happened before converting.</li>"
        "<li>'Exit' means no further touchpoint in the analysed data, so journeys near its end may still go on.</li>"
        f"<li>Generated {made} by <code>python -m training analyze</code>; every figure is in report.json.</li>"
        "</ul></section>"
    )
