"""The training report: one self-contained HTML page per bundle, from its manifest; plots are inline SVG."""

from __future__ import annotations

import datetime as dt
import html
import json
import math
from pathlib import Path

from models.errors import NotFound

MANIFEST, REPORT = "manifest.json", "report.html"
TOP_FEATURES = 15
MODEL_COLOUR, DIAGONAL, GRID, INK, MUTED = "#1d4e89", "#718096", "#e2e8f0", "#1a202c", "#4a5568"
BASELINE_COLOURS = ["#c05621", "#2f7d4f", "#7b3fb5", "#b83280", "#4a5568"]
BASELINE_DASHES = ["7 4", "2 3", "10 3 2 3", "4 4", "1 2"]
IMPORTANCE_COLOUR, STAGE_COLOUR = "#2b6cb0", "#2c7a7b"
NO_STAGE = "(no stage)"
MODELS = {"next_stage": "Next-stage model", "content": "Content model"}
LABELS = {
    "log_loss": "log loss",
    "accuracy": "accuracy",
    "ece": "ECE",
    "auc": "AUC",
    "auc_macro": "AUC (macro)",
    "hit_rate@3": "hit rate@3",
    "ndcg@3": "NDCG@3 (sampled)",
    "hit_rate@10": "HR@10",
    "hit_rate@20": "HR@20",
    "ndcg@10": "NDCG@10",
    "mrr@20": "MRR@20",
}
"""Metric names as a reader knows them; unknown ones show as recorded."""
PREFERRED = ["log_loss", "ece", "accuracy", "auc", "auc_macro"]
NOT_COMPARED = {"rows", "positive_rate"}
"""Scalars that describe the test rows, not a model: shown in the caption, not as columns."""

CSS = """
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1a202c;max-width:900px;
margin:24px auto;padding:0 16px;background:#fff}
h1{font-size:26px;margin:0 0 4px}h2{font-size:20px;margin:36px 0 4px;border-bottom:2px solid #e2e8f0;padding-bottom:4px}
h3{font-size:16px;margin:20px 0 6px}.what{color:#4a5568;margin:4px 0 12px}.muted{color:#4a5568;font-size:13px}
table{border-collapse:collapse;margin:8px 0;font-size:14px;font-variant-numeric:tabular-nums}
th,td{padding:5px 10px;border-bottom:1px solid #e2e8f0;text-align:right}th:first-child,td:first-child{text-align:left}
thead th{background:#f7fafc;font-weight:600}tr.model th,tr.model td{background:#ebf4ff}
table.facts th{text-align:left;font-weight:600;color:#4a5568;background:none;padding-right:18px}
table.facts td{text-align:left}code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:13px}
.verdict{font-weight:600;margin:6px 0 2px}.yes{color:#22543d}.no{color:#9b2c2c}
.badge{display:inline-block;padding:0 8px;border-radius:10px;color:#fff}.yes .badge{background:#2f855a}
.no .badge{background:#c53030}.charts{display:flex;flex-wrap:wrap;gap:20px}figure{margin:0}
figcaption{font-weight:600;margin:12px 0 4px}svg{max-width:100%;height:auto}
svg text{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;fill:#1a202c}
"""


def write_training_report(bundle_dir: Path | str) -> Path:
    """Read `manifest.json` in a bundle directory and write `report.html` beside it; returns its path."""
    bundle_dir = Path(bundle_dir)
    try:
        manifest = json.loads((bundle_dir / MANIFEST).read_text())
    except FileNotFoundError as exc:
        raise NotFound(f"no {MANIFEST} in {bundle_dir}: not a model bundle; see `python -m training list`") from exc
    path = bundle_dir / REPORT
    path.write_text(render_training_report(manifest))
    return path


def render_training_report(manifest: dict) -> str:
    """The whole report page for one bundle's manifest."""
    metrics = manifest.get("metrics", {})
    sections = [
        _header(manifest),
        _full_catalog(manifest.get("full_catalog")),
        _section(
            "Metrics on held-out data",
            "Each model against its baselines on the test rows (the events after the split point); the content "
            "model's ranking figures here are sampled (the engaged item against a few random others), so they "
            "flatter popularity: the full-catalog figures above are the ones to judge by. "
            "the best value in each column is bold, arrows say whether lower or higher is better.",
            "".join(_model_metrics(key, title, metrics[key], manifest) for key, title in _models(metrics)),
        ),
        _section(
            "Calibration",
            "Reliability curves: test predictions binned by predicted probability (x) against how often the event "
            "happened (y); points on the dashed diagonal are calibrated, points below it are over-confident. "
            "Larger points hold more rows.",
            "<div class='charts'>"
            + "".join(_calibration_figure(key, title, metrics[key]) for key, title in _models(metrics))
            + "</div>",
        ),
        _section(
            "Feature importance",
            f"The {TOP_FEATURES} features each model leaned on most: total gain of the splits on a feature "
            "(its share of all gain in brackets).",
            _importance(manifest.get("feature_importance", {})),
        ),
        _section(
            "Stage mix of the data",
            "Training events by the journey stage their type belongs to; events of types the journey map does not "
            "place in a stage are counted as (no stage).",
            _stage_mix(manifest),
        ),
    ]
    title = f"Training report {_e(manifest.get('version', ''))}"
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>"
        f"<meta name='viewport' content='width=device-width,initial-scale=1'><style>{CSS}</style></head>"
        f"<body>{''.join(sections)}</body></html>\n"
    )


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _num(value, digits: int = 4) -> str:
    """A metric as text: grouped integers, fixed decimals, n/a where it is undefined."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if not _is_number(value):
        return "n/a"
    return f"{value:,.{digits}f}"


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _pct(part: float, whole: float) -> str:
    return f"{part / whole:.1%}" if whole else "n/a"


def _when(iso) -> str:
    """An ISO instant as `2026-03-01 05:53 UTC`; anything unparseable as recorded."""
    try:
        stamp = dt.datetime.fromisoformat(str(iso).replace("Z", "+00:00"))
    except ValueError:
        return _e(iso)
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone(dt.UTC)
    return stamp.strftime("%Y-%m-%d %H:%M UTC")


def _section(title: str, what: str, body: str) -> str:
    return f"<section><h2>{_e(title)}</h2><p class='what'>{_e(what)}</p>{body}</section>"


def _models(per_model: dict) -> list[tuple[str, str]]:
    """(key, title) of each model in a per-model dict of the manifest, the known ones first."""
    known = [(key, title) for key, title in MODELS.items() if key in per_model]
    return known + [(key, key) for key in per_model if key not in MODELS]


def _header(manifest: dict) -> str:
    data = manifest.get("data", {})
    time_range = data.get("time_range") or [None, None]
    paths = [str(p) for p in data.get("paths", [])]
    shown = ", ".join(f"<code>{_e(p)}</code>" for p in paths[:5]) + (f" and {len(paths) - 5} more" if paths[5:] else "")
    libraries = ", ".join(f"{_e(name)} {_e(version)}" for name, version in manifest.get("libraries", {}).items())
    facts = [
        ("Created", _when(manifest.get("created_at"))),
        ("Events", f"{_num(data.get('events'))} from {_num(data.get('visitors'))} visitors"),
        ("Time range", f"{_when(time_range[0])} to {_when(time_range[-1])}"),
        ("Split at", f"{_when(data.get('split_at'))}: earlier events train, later ones test"),
        ("Horizon", f"{_num(manifest.get('horizon_days'), 0)} days"),
        ("Data", shown or "n/a"),
        (
            "Fingerprint",
            f"<code title='{_e(data.get('fingerprint', ''))}'>{_e(str(data.get('fingerprint', ''))[:12])}</code>",
        ),
        ("Bad rows skipped", _num(data.get("bad_rows_skipped"))),
        ("Libraries", libraries or "n/a"),
    ]
    rows = "".join(f"<tr><th scope='row'>{name}</th><td>{value}</td></tr>" for name, value in facts)
    return (
        f"<h1>Training report</h1><p class='what'>Model version <code>{_e(manifest.get('version', ''))}</code>: "
        "what it was trained on and how it did on data it had not seen.</p>"
        f"<table class='facts'>{rows}</table>"
    )


FULL_CATALOG_METRICS = ("hit_rate@10", "hit_rate@20", "ndcg@10", "mrr@20")


def _full_catalog(block: dict | None) -> str:
    """The content model and the ranking baselines over the whole catalog, with intervals (docs/evaluation.md)."""
    if not block:
        return ""
    scorers = [name for name in ("model", *block.get("baselines", [])) if name in block]
    what = (
        f"Each later engagement ({_num(block.get('queries'))} queries: {_num(block.get('queries_seen'))} of an item "
        f"the visitor had engaged with before, {_num(block.get('queries_new'))} new) ranked against all "
        f"{_num(block.get('universe'))} items; ties count at their expected value under a random order; "
        "95 % normal-approximation intervals (variance clustered by visitor) in brackets. The model scores its "
        "candidates (the visitor's recent items and the most popular) and ranks the rest after them by popularity."
    )
    if not scorers:
        return _section("Full-catalog ranking", what, f"<p class='verdict'>{_e(block.get('verdict', ''))}</p>")
    parts = [_interval_table([(name, block[name]) for name in scorers], FULL_CATALOG_METRICS)]
    for split, title in (
        ("seen", "Targets the visitor had engaged with before"),
        ("new", "Targets new to them"),
        ("with_history", "Visitors with an earlier engagement (every non-empty prefix)"),
    ):
        if not any(split in block[name] for name in scorers):
            continue
        parts.append(f"<h3>{title}</h3>")
        parts.append(_interval_table([(name, block[name].get(split, {})) for name in scorers], FULL_CATALOG_METRICS))
    verdict = block.get("verdict", "")
    kind = "yes" if "beats" in verdict and "not" not in verdict else "no"
    parts.insert(0, f"<p class='verdict {kind}'>{_e(verdict)}</p>")
    return _section("Full-catalog ranking", what, "".join(parts))


def _interval_table(rows: list[tuple[str, dict]], columns: tuple[str, ...]) -> str:
    """Value [low, high] per metric, the best value of each column bold."""
    head = "".join(f"<th scope='col'>{_e(LABELS.get(c, c))} \u2191</th>" for c in columns)
    best = {c: max((r.get(c, {}).get("value") or 0.0 for _, r in rows), default=None) for c in columns}
    body = []
    for name, row in rows:
        cells = []
        for column in columns:
            figure = row.get(column) or {}
            bounds = f"[{_num(figure.get('low'))}, {_num(figure.get('high'))}]"
            text = f"{_num(figure.get('value'))} <span class='muted'>{bounds}</span>"
            strong = _is_number(figure.get("value")) and figure["value"] == best[column]
            cells.append(f"<td><strong>{text}</strong></td>" if strong else f"<td>{text}</td>")
        kind = " class='model'" if name == "model" else ""
        body.append(f"<tr{kind}><th scope='row'>{_e(name)}</th>{''.join(cells)}</tr>")
    return f"<table><thead><tr><th></th>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _model_metrics(key: str, title: str, metrics: dict, manifest: dict) -> str:
    rows = [("model", metrics.get("model", {})), *metrics.get("baselines", {}).items()]
    counts = metrics.get("rows", {})
    caption = [f"train {_num(counts.get('train'))} rows, test {_num(counts.get('test'))} rows"]
    if _is_number(metrics.get("model", {}).get("positive_rate")):
        caption.append(f"positive rate {metrics['model']['positive_rate']:.1%}")
    if metrics.get("trained_on"):
        caption.append(f"trained on {_e(metrics['trained_on'])}")
    weights = metrics.get("ips_weights")
    if isinstance(weights, dict):
        caption.append(
            f"inverse-propensity weights {_num(weights.get('min'), 2)} to {_num(weights.get('max'), 2)}, "
            f"effective sample size {_num(weights.get('effective_sample_size'), 0)}"
        )
    parts = [f"<h3>{_e(title)}</h3><p class='muted'>{'; '.join(caption)}.</p>", _metrics_table(rows)]
    per_class = [(name, row.get("auc_per_class")) for name, row in rows]
    if any(isinstance(aucs, dict) for _, aucs in per_class):
        classes = manifest.get("next_stage_classes") if key == "next_stage" else None
        classes = classes or list(dict.fromkeys(c for _, aucs in per_class for c in (aucs or {})))
        parts.append(
            "<p class='muted'>AUC of each next stage against the rest (n/a: the stage does not occur, or always "
            "occurs, in the test rows, so AUC is undefined):</p>"
            + _table([(name, aucs or {}) for name, aucs in per_class], classes, {c: 1 for c in classes})
        )
    beats = metrics.get("beats_baselines")
    verdict = "yes" if beats else "no"
    parts.append(
        f"<p class='verdict {verdict}'>beats baselines: <span class='badge'>{verdict}</span> "
        f"<span class='muted'>(lower log loss than every baseline)</span></p>"
    )
    return "".join(parts)


def _metrics_table(rows: list[tuple[str, dict]]) -> str:
    present = {k for _, row in rows for k, v in row.items() if k not in NOT_COMPARED and (v is None or _is_number(v))}
    columns = [k for k in PREFERRED if k in present] + sorted(present - set(PREFERRED))
    return _table(rows, columns, {c: _direction(c) for c in columns})


def _direction(metric: str) -> int:
    """-1 where lower is better, 1 where higher is, 0 where neither (not bolded)."""
    if metric in ("log_loss", "ece"):
        return -1
    return 1 if metric.startswith(("auc", "accuracy", "hit_rate", "ndcg", "precision", "recall")) else 0


def _table(rows: list[tuple[str, dict]], columns: list[str], directions: dict[str, int]) -> str:
    """One row per model or baseline, the best value of each column bold."""
    arrows = {-1: " \u2193", 1: " \u2191", 0: ""}
    head = "".join(f"<th scope='col'>{_e(LABELS.get(c, c))}{arrows[directions[c]]}</th>" for c in columns)
    best = {}
    for column in columns:
        values = [row.get(column) for _, row in rows if _is_number(row.get(column))]
        if values and directions[column]:
            best[column] = min(values) if directions[column] < 0 else max(values)
    body = []
    for name, row in rows:
        cells = []
        for column in columns:
            value, text = row.get(column), _num(row.get(column))
            cells.append(
                f"<td><strong>{text}</strong></td>" if column in best and value == best[column] else f"<td>{text}</td>"
            )
        kind = " class='model'" if name == "model" else ""
        body.append(f"<tr{kind}><th scope='row'>{_e(name)}</th>{''.join(cells)}</tr>")
    return f"<table><thead><tr><th></th>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


AXES = {
    "next_stage": ("predicted probability of the top stage", "share where the top stage came next"),
    "content": ("predicted response probability", "observed response rate"),
}


def _calibration_figure(key: str, title: str, metrics: dict) -> str:
    series = [("model", metrics.get("model", {}).get("calibration") or [])]
    series += [(name, row.get("calibration") or []) for name, row in metrics.get("baselines", {}).items()]
    x_label, y_label = AXES.get(key, ("predicted probability", "observed rate"))
    svg = _reliability_svg(f"{title}: calibration", series, x_label, y_label)
    return f"<figure><figcaption>{_e(title)}</figcaption>{svg}</figure>"


def _reliability_svg(label: str, series: list[tuple[str, list[dict]]], x_label: str, y_label: str) -> str:
    """Predicted (x) against observed (y), both 0..1, with the diagonal; one line per series and a legend below."""
    left, top, side, width = 62, 14, 320, 430
    per_row = 3
    legend_top = top + side + 60
    height = legend_top + 22 * math.ceil((len(series) + 1) / per_row) + 6

    def x(value: float) -> float:
        return left + side * min(max(value, 0.0), 1.0)

    def y(value: float) -> float:
        return top + side * (1 - min(max(value, 0.0), 1.0))

    parts = [f"<rect x='{left}' y='{top}' width='{side}' height='{side}' fill='#fff' stroke='{MUTED}'/>"]
    for tick in (0.0, 0.2, 0.4, 0.6, 0.8, 1.0):
        text = f"{tick:g}"
        parts.append(f"<line x1='{x(tick):.1f}' y1='{top}' x2='{x(tick):.1f}' y2='{top + side}' stroke='{GRID}'/>")
        parts.append(f"<line x1='{left}' y1='{y(tick):.1f}' x2='{left + side}' y2='{y(tick):.1f}' stroke='{GRID}'/>")
        parts.append(f"<text x='{x(tick):.1f}' y='{top + side + 16}' font-size='12' text-anchor='middle'>{text}</text>")
        parts.append(f"<text x='{left - 6}' y='{y(tick) + 4:.1f}' font-size='12' text-anchor='end'>{text}</text>")
    parts.append(
        f"<line x1='{x(0)}' y1='{y(0)}' x2='{x(1)}' y2='{y(1)}' stroke='{DIAGONAL}' stroke-width='1.5' "
        "stroke-dasharray='5 4'/>"
    )
    parts.append(
        f"<text x='{left + side / 2}' y='{top + side + 36}' font-size='13' text-anchor='middle'>{_e(x_label)}</text>"
        f"<text transform='translate(16 {top + side / 2}) rotate(-90)' font-size='13' text-anchor='middle'>"
        f"{_e(y_label)}</text>"
    )
    drawn = 0
    for index, (name, bins) in enumerate(series):
        colour, dash, stroke = _series_style(index)
        points = sorted(
            (b for b in bins if _is_number(b.get("mean_predicted")) and _is_number(b.get("observed"))),
            key=lambda b: b["mean_predicted"],
        )
        if not points:
            continue
        drawn += 1
        most = max(b.get("count") or 0 for b in points) or 1
        path = " ".join(f"{x(b['mean_predicted']):.1f},{y(b['observed']):.1f}" for b in points)
        parts.append(
            f"<polyline points='{path}' fill='none' stroke='{colour}' stroke-width='{stroke}' "
            f"stroke-dasharray='{dash}' stroke-linejoin='round'/>"
        )
        for b in points:
            radius = 2.5 + 4.5 * math.sqrt((b.get("count") or 0) / most)
            tip = (
                f"{name}: predicted {_num(b['mean_predicted'], 3)}, observed {_num(b['observed'], 3)}, "
                f"{_num(b.get('count'))} rows"
            )
            parts.append(
                f"<circle cx='{x(b['mean_predicted']):.1f}' cy='{y(b['observed']):.1f}' r='{radius:.1f}' "
                f"fill='{colour}' fill-opacity='0.85' stroke='#fff' stroke-width='1'><title>{_e(tip)}</title></circle>"
            )
    if not drawn:
        parts.append(
            f"<text x='{left + side / 2}' y='{top + side / 2}' font-size='14' text-anchor='middle' fill='{MUTED}' "
            "stroke='#fff' stroke-width='5' paint-order='stroke'>"
            "no test rows to bin</text>"
        )
    entries = [(name, *_series_style(i)) for i, (name, _) in enumerate(series)] + [("ideal", DIAGONAL, "5 4", 1.5)]
    for slot, (name, colour, dash, stroke) in enumerate(entries):
        ex, ey = 12 + (slot % per_row) * 140, legend_top + 22 * (slot // per_row)
        parts.append(
            f"<line x1='{ex}' y1='{ey}' x2='{ex + 26}' y2='{ey}' stroke='{colour}' stroke-width='{stroke}' "
            f"stroke-dasharray='{dash}'/><text x='{ex + 32}' y='{ey + 4}' font-size='13'>{_e(_short(name, 16))}"
            f"<title>{_e(name)}</title></text>"
        )
    return _svg(label, width, height, "".join(parts))


def _series_style(index: int) -> tuple[str, str, float]:
    """(colour, dash pattern, stroke width): the model solid and heavier, each baseline its own colour and dash."""
    if index == 0:
        return MODEL_COLOUR, "none", 2.75
    at = (index - 1) % len(BASELINE_COLOURS)
    return BASELINE_COLOURS[at], BASELINE_DASHES[at], 2.0


def _svg(label: str, width: int, height: float, body: str) -> str:
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' role='img' aria-label='{_e(label)}' width='{width}' "
        f"height='{height:.0f}' viewBox='0 0 {width} {height:.0f}'>{body}</svg>"
    )


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _bar_svg(label: str, bars: list[tuple[str, float, str]], colour: str, empty: str) -> str:
    """Horizontal bars: (name, value, text written after the bar), in the order given."""
    width, row, label_w, text_w = 860, 26, 250, 150
    if not bars:
        return _svg(label, width, 40, f"<text x='0' y='24' font-size='14' fill='{MUTED}'>{_e(empty)}</text>")
    most = max((value for _, value, _ in bars if _is_number(value)), default=0) or 1
    plot_w = width - label_w - text_w
    parts = [f"<line x1='{label_w}' y1='0' x2='{label_w}' y2='{len(bars) * row}' stroke='{MUTED}'/>"]
    for i, (name, value, text) in enumerate(bars):
        top = i * row
        length = plot_w * max(value, 0) / most if _is_number(value) else 0
        parts.append(
            f"<text x='{label_w - 8}' y='{top + 17}' font-size='13' text-anchor='end'>{_e(_short(name, 34))}"
            f"<title>{_e(name)}</title></text>"
            f"<rect class='bar' x='{label_w}' y='{top + 4}' width='{length:.1f}' height='{row - 8}' fill='{colour}'>"
            f"<title>{_e(name)}: {_e(text)}</title></rect>"
            f"<text x='{label_w + length + 6:.1f}' y='{top + 17}' font-size='13' fill='{INK}'>{_e(text)}</text>"
        )
    return _svg(label, width, len(bars) * row + 4, "".join(parts))


def _importance(importance: dict) -> str:
    parts = []
    for key, title in _models(importance):
        gains = importance[key]
        ranked = sorted(
            ((str(name), gain) for name, gain in (gains or {}).items() if _is_number(gain)), key=lambda p: -p[1]
        )
        total = sum(gain for _, gain in ranked)
        bars = [(name, gain, f"{gain:,.0f} ({_pct(gain, total)})") for name, gain in ranked[:TOP_FEATURES]]
        rest = ranked[TOP_FEATURES:]
        note = (
            f"<p class='muted'>{len(rest)} more features hold {_pct(sum(g for _, g in rest), total)} of the gain "
            f"({sum(1 for _, g in rest if g == 0)} of them never used).</p>"
            if rest
            else ""
        )
        svg = _bar_svg(f"{title}: feature importance", bars, IMPORTANCE_COLOUR, "no feature importance recorded")
        parts.append(f"<figure><figcaption>{_e(title)}</figcaption>{svg}</figure>{note}")
    if not parts:
        return "<p class='muted'>This bundle records no feature importance (trained by an older version).</p>"
    return "".join(parts)


def _stage_mix(manifest: dict) -> str:
    mix = {str(stage): count for stage, count in (manifest.get("data", {}).get("stage_mix") or {}).items()}
    stages = [str(s) for s in manifest.get("journey", {}).get("stages", [])]
    order = [s for s in stages if s in mix] + sorted(
        (s for s in mix if s not in stages), key=lambda s: (s == NO_STAGE, -(mix[s] or 0))
    )
    total = sum(count for count in mix.values() if _is_number(count))
    bars = [(stage, mix[stage], f"{_num(mix[stage])} ({_pct(mix[stage] or 0, total)})") for stage in order]
    return _bar_svg("Stage mix of the training events", bars, STAGE_COLOUR, "no stage mix recorded") + (
        f"<p class='muted'>{_num(total)} events in all, stages in journey order.</p>" if total else ""
    )
