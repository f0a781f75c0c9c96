"""The lift report as one self-contained HTML page: headlines, inline SVG charts, a table per placement.

No script, no external file: the page can be mailed or archived as it is. Every text from the
data (placement and stage names, reasons, notes) is HTML-escaped.
"""

from __future__ import annotations

import html

from reports.lift import METRICS

PERSONALIZED_COLOUR, HOLDOUT_COLOUR, LIFT_COLOUR, MUTED = "#2563eb", "#9ca3af", "#111827", "#9ca3af"
CHART_METRICS = ("response_rate", "conversion_rate")
LABEL_W, BARS_W, GAP, LIFT_W = 130, 250, 40, 280
ROW_H, TOP = 34, 24
CSS = """
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;color:#111827;margin:2rem auto;max-width:1200px;
padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{margin-top:2.2rem;border-bottom:1px solid #e5e7eb;padding-bottom:.2rem}
.what{color:#4b5563}.muted,.insufficient td{color:#9ca3af}.headlines li{margin:.25rem 0;font-size:1.02rem}
table{border-collapse:collapse;margin:.8rem 0;font-variant-numeric:tabular-nums}
th,td{border-bottom:1px solid #e5e7eb;padding:.3rem .55rem;text-align:right;white-space:nowrap}
th:first-child,td:first-child{text-align:left}th[colspan]{text-align:center}th{background:#f9fafb;font-weight:600}
td.reason{text-align:left;white-space:normal;font-style:italic}.sig{font-weight:600}
.scroll{overflow-x:auto}h3{margin:1.4rem 0 .3rem;font-size:1.05rem}
.legend span{display:inline-block;width:.9rem;height:.9rem;margin:0 .3rem 0 1rem;vertical-align:-2px}
dt{font-weight:600;margin-top:.5rem}dd{margin-left:1rem;color:#374151}
svg text{font:12px system-ui,sans-serif}
"""


def render_lift_html(report: dict) -> str:
    """The whole page for a report of reports.lift.lift_from_log / lift_report."""
    sections = [_header(report)]
    if report["notes"]:
        sections.append("<ul class='what'>" + "".join(f"<li>{_e(note)}</li>" for note in report["notes"]) + "</ul>")
    sections.extend(_placement(entry) for entry in report["placements"])
    sections.append(_definitions(report))
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Lift report</title>"
        f"<meta name='viewport' content='width=device-width,initial-scale=1'><style>{CSS}</style></head>"
        f"<body>{''.join(sections)}</body></html>\n"
    )


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _header(report: dict) -> str:
    which = f"placement {report['placement']}" if report["placement"] else "every placement"
    hours, days = report["window_hours"], report["conversion_window_days"]
    return (
        "<h1>Lift of personalization over the holdout</h1>"
        f"<p class='what'>Decisions from {_e(report['since'])} to {_e(report['until'])} (excluded), {_e(which)}. "
        f"Response: {_e(', '.join(report['reward_types']) or 'none')} within {hours:g} h; "
        f"conversion: reaching {_e(report['conversion_stage'])} within {days:g} days. "
        "Personalized is every decision outside the holdout (intention to treat). Intervals are 95%.</p>"
        f"<p class='legend'><span style='background:{PERSONALIZED_COLOUR}'></span>personalized"
        f"<span style='background:{HOLDOUT_COLOUR}'></span>holdout"
        f"<span style='background:{LIFT_COLOUR};height:2px;vertical-align:3px'></span>lift with its 95% CI</p>"
    )


def _placement(entry: dict) -> str:
    policies = ", ".join(f"{_e(k)} {v:,}" for k, v in entry["policies"].items())
    headlines = "".join(f"<li>{_e(line)}</li>" for line in entry["headlines"])
    blocks = []
    for key, (words, _) in METRICS.items():
        chart = _chart(entry, key) if key in CHART_METRICS else ""
        blocks.append(f"<h3>{_e(words.capitalize())}</h3>{chart}{_table(entry, key)}")
    return (
        f"<section><h2>{_e(entry['placement'])}</h2><ul class='headlines'>{headlines}</ul>"
        f"<p class='what'>Response here: {_e(', '.join(entry['reward_types']) or 'none')}. "
        f"Decisions by policy: {policies}.</p>{''.join(blocks)}</section>"
    )


# -- charts ------------------------------------------------------------------------------------


def _chart(entry: dict, key: str) -> str:
    """Rates of both groups as bars, and the lift with its CI as a whisker around zero, one row per segment."""
    rows = [entry["overall"], *entry["stages"]]
    metrics = [row["metrics"].get(key) for row in rows]
    usable = [m for m in metrics if m and m["status"] == "ok"]
    top_rate = max([max(m["personalized"], m["holdout"]) for m in usable] + [1e-9])
    reach = max([abs(b) for m in usable for b in (m["ci"] or [m["absolute_lift"]])] + [1e-9]) * 1.1
    width = LABEL_W + BARS_W + GAP + LIFT_W + 20
    height = TOP + ROW_H * len(rows) + 24
    zero = LABEL_W + BARS_W + GAP + LIFT_W / 2
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' role='img' "
        f"aria-label='{_e(METRICS[key][0])} of {_e(entry['placement'])}'>",
        f"<text x='{LABEL_W}' y='14' fill='#4b5563'>personalized and holdout</text>",
        f"<text x='{zero}' y='14' text-anchor='middle' fill='#4b5563'>lift, pts (95% CI)</text>",
        f"<line x1='{zero}' x2='{zero}' y1='{TOP}' y2='{TOP + ROW_H * len(rows)}' stroke='#d1d5db'/>",
    ]
    for index, (row, metric) in enumerate(zip(rows, metrics)):
        y = TOP + index * ROW_H
        label = row["stage"]
        weight = " font-weight='600'" if index == 0 else ""
        parts.append(f"<text x='0' y='{y + 20}'{weight}>{_e(label)}</text>")
        if index == 1:  # the stages below split the overall row above
            parts.append(f"<line x1='0' x2='{width}' y1='{y}' y2='{y}' stroke='#e5e7eb'/>")
        if metric is None or metric["status"] != "ok":
            reason = (metric or row)["reason"]
            parts.append(f"<text x='{LABEL_W}' y='{y + 20}' fill='{MUTED}'>insufficient data: {_e(reason)}</text>")
            continue
        parts.extend(_bars(metric, y, top_rate))
        parts.extend(_whisker(metric, y, zero, reach))
    for tick in (-reach / 1.1, reach / 1.1):
        x = zero + tick / reach * LIFT_W / 2
        parts.append(f"<text x='{x:.1f}' y='{height - 6}' text-anchor='middle' fill='#6b7280'>{tick * 100:+.1f}</text>")
    parts.append(f"<text x='{zero}' y='{height - 6}' text-anchor='middle' fill='#6b7280'>0</text>")
    parts.append("</svg>")
    return "<div>" + "".join(parts) + "</div>"


def _bars(metric: dict, y: float, top_rate: float) -> list[str]:
    parts = []
    for offset, key, colour in ((6, "personalized", PERSONALIZED_COLOUR), (18, "holdout", HOLDOUT_COLOUR)):
        value = metric[key]
        length = max(value / top_rate * (BARS_W - 60), 0.5)
        parts.append(
            f"<rect x='{LABEL_W}' y='{y + offset}' width='{length:.1f}' height='10' fill='{colour}'>"
            f"<title>{key} {value:.2%}</title></rect>"
        )
        parts.append(f"<text x='{LABEL_W + length + 4:.1f}' y='{y + offset + 9}' fill='#374151'>{value:.1%}</text>")
    return parts


def _whisker(metric: dict, y: float, zero: float, reach: float) -> list[str]:
    scale = LIFT_W / 2 / reach
    x = zero + metric["absolute_lift"] * scale
    colour = LIFT_COLOUR if metric["significant"] else MUTED
    parts = []
    if metric["ci"]:
        low, high = (zero + bound * scale for bound in metric["ci"])
        mid = y + 17
        parts.append(f"<line x1='{low:.1f}' x2='{high:.1f}' y1='{mid}' y2='{mid}' stroke='{colour}' stroke-width='2'/>")
        for end in (low, high):
            parts.append(f"<line x1='{end:.1f}' x2='{end:.1f}' y1='{mid - 5}' y2='{mid + 5}' stroke='{colour}'/>")
    parts.append(
        f"<circle cx='{x:.1f}' cy='{y + 17}' r='4' fill='{colour}'><title>{_e(_lift_text(metric, True))}</title>"
        "</circle>"
    )
    return parts


# -- table -------------------------------------------------------------------------------------


def _table(entry: dict, key: str) -> str:
    unit = "pts" if key in CHART_METRICS else "per decision"
    head = (
        "<tr><th rowspan='2'>Stage</th><th colspan='2'>Decisions</th><th colspan='2'>Impressions</th>"
        f"<th colspan='4'>{_e(METRICS[key][0].capitalize())}</th></tr>"
        "<tr><th>personalized</th><th>holdout</th><th>personalized</th><th>holdout</th>"
        f"<th>personalized</th><th>holdout</th><th>lift, {unit} (95% CI)</th><th>relative lift (95% CI)</th></tr>"
    )
    rows = [_row(segment, key) for segment in (entry["overall"], *entry["stages"])]
    return f"<div class='scroll'><table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table></div>"


def _row(segment: dict, key: str) -> str:
    p, h = segment["personalized"], segment["holdout"]
    cells = [_e(segment["stage"]), f"{p['decisions']:,}", f"{h['decisions']:,}"]
    cells += [f"{p['impressions']:,}", f"{h['impressions']:,}"]
    counts = "".join(f"<td>{cell}</td>" for cell in cells)
    metric = segment["metrics"].get(key) if segment["status"] == "ok" else None
    if metric is None or metric["status"] != "ok":
        reason = f"insufficient data: {_e((metric or segment)['reason'])}"
        return f"<tr class='insufficient'>{counts}<td class='reason' colspan='4'>{reason}</td></tr>"
    figure = _rate if key in CHART_METRICS else _amount
    relative = metric["relative_lift"]
    if relative is None:
        relative_text = _e(metric["relative_note"])
    elif metric["relative_ci"]:
        low, high = metric["relative_ci"]
        relative_text = f"{relative:+.0%} ({low:+.0%} to {high:+.0%})"
    else:
        relative_text = f"{relative:+.0%} ({_e(metric['relative_note'])})"
    significant = " class='sig'" if metric["significant"] else ""
    return (
        f"<tr>{counts}<td>{figure(metric['personalized'])}</td><td>{figure(metric['holdout'])}</td>"
        f"<td{significant}>{_e(_lift_text(metric, key in CHART_METRICS))}</td><td>{relative_text}</td></tr>"
    )


def _lift_text(metric: dict, is_rate: bool) -> str:
    form = (lambda v: f"{v * 100:+.1f}") if is_rate else (lambda v: f"{v:+,.2f}")
    ci = metric["ci"]
    interval = f" ({form(ci[0])} to {form(ci[1])})" if ci else ""
    return f"{form(metric['absolute_lift'])}{interval}"


def _rate(value: float) -> str:
    return f"{value:.2%}"


def _amount(value: float) -> str:
    return f"{value:,.2f}"


def _definitions(report: dict) -> str:
    items = "".join(
        f"<dt>{_e(name.replace('_', ' '))}</dt><dd>{_e(text)}</dd>" for name, text in report["definitions"].items()
    )
    return f"<section><h2>Definitions</h2><dl>{items}</dl></section>"
