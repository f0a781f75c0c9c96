"""Command line of the training job: `python -m training <command>`; see --help."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import sys
import time
from pathlib import Path

from config.settings import Settings
from journal.skipped import describe_skipped, skipped_lines
from models.catalog import Catalog
from models.errors import NotFound, WayfinderError
from models.features import FeatureSpec
from models.journey import JourneyMap
from models.registry import Registry
from training import batch_decide, keys_cli
from training.cli_options import common_options, resolve
from training.evaluate import REWARDS
from training.event_checks import EventChecks
from training.full_catalog import format_block
from training.importers import KINDS as IMPORT_KINDS
from training.progress import Progress
from training.recorded_journey import describe, differences, journey_for

REWARD_HELP = "what a policy earns per impression: a response (the placement's reward events) or its value"
JOURNEY_HELP = "journey map YAML (default: <config-dir>/journey.yaml)"
BUNDLE_JOURNEY_HELP = (
    "journey map YAML (default: the map the version was trained on, recorded in its bundle; a different map is refused)"
)


def main(argv: list[str] | None = None) -> int:
    settings = Settings.from_env()
    parser = argparse.ArgumentParser(
        prog="python -m training",
        description=__doc__,
        parents=[common_options(settings, top=True)],
        epilog="docs/cli.md: every command, the common options, progress lines and exit codes",
    )
    commands = _Commands(parser.add_subparsers(dest="command", required=True), common_options(settings, top=False))

    train = commands.add("train", help="train both models on events, evaluate, register a bundle")
    train.add_argument("--events", required=True, help="event file or directory (JSONL, CSV, Parquet)")
    train.add_argument(
        "--journey",
        help="journey map YAML (default: <config-dir>/journey.yaml); the bundle records the map itself. "
        "The config dir's catalog is used only when --config-dir is given, or when the journey map is its own",
    )
    train.add_argument("--horizon-days", type=float, default=settings.horizon_days)
    train.add_argument("--max-bad-rows", type=int, default=0, help="skip up to this many bad rows, then stop")
    train.add_argument("--max-rows", type=int, default=None, help="sample at most about this many events")
    train.add_argument(
        "--max-choices",
        type=_query_count,
        default=argparse.SUPPRESS,
        help="item touches that become content choices at most, a number or all (default: 50000)",
    )
    train.add_argument("--decisions", help="decision log file or directory: learn content from impressions (IPS)")
    train.add_argument("--reward-types", help="comma-separated outcome event types (default: the map's outcomes)")
    train.add_argument("--reward-window-hours", type=float, default=24.0)
    train.add_argument("--profiles", help="JSON Lines of {visitor_id, profile} (interests shape the features)")
    train.add_argument("--no-promote", action="store_true", help="register without making it current")
    train.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    train.add_argument(
        "--split-at",
        type=_instant,
        help="evaluate on events from this instant on, ISO-8601 (default: the latest 20%% of the events)",
    )
    train.add_argument(
        "--full-catalog-queries",
        type=_query_count,
        default=argparse.SUPPRESS,
        help="later engagements the full-catalog evaluation ranks for: a number, or all (default: 5000)",
    )

    simulate = commands.add("simulate", help="write simulated demo journeys (JSON Lines)")
    simulate.add_argument("--out", required=True)
    simulate.add_argument("--visitors", type=int, default=3000)
    simulate.add_argument("--seed", type=int, default=11)
    simulate.add_argument(
        "--cross-device",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="this share of the visitors who configure, then reach intent, go on logged in on a second device "
        "(the app); their web logins go to identities/ beside --out (docs/analytics.md)",
    )

    importing = commands.add("import", help="convert a public data set into canonical events and logs")
    importing.add_argument("kind", choices=list(IMPORT_KINDS), help="which data set")
    importing.add_argument("source", help="the data set's file or folder, e.g. ../shared/data/pathdata/PathData.csv")
    importing.add_argument("out", help="new (or empty) folder for events/, decisions/ and profiles.jsonl")
    importing.add_argument("--max-bad-rows", type=int, default=0, help="skip up to this many bad rows, then stop")
    importing.add_argument("--json", action="store_true", help="print the import report as one JSON object")

    analyze = commands.add("analyze", help="journey report: the real journey beside the designed map")
    analyze.add_argument("--events", required=True, help="event file or directory (JSONL, CSV, Parquet)")
    analyze.add_argument("--journey", help=JOURNEY_HELP)
    analyze.add_argument("--out", required=True, help="directory for report.html and report.json")
    analyze.add_argument("--since", type=_instant, help="first instant, ISO-8601 (UTC if no zone)")
    analyze.add_argument("--until", type=_instant, help="end instant (excluded), ISO-8601 (UTC if no zone)")
    analyze.add_argument("--channel", help="only this channel's touchpoints (the journey as seen there)")
    analyze.add_argument("--segment", help="file of visitor or user ids, one a line: analyse only those journeys")
    analyze.add_argument(
        "--journeys",
        choices=["person", "device"],
        default="person",
        help="one journey per person (every linked device; the default) or per device (visitor_id)",
    )
    analyze.add_argument(
        "--identities-from",
        help="folder whose identities/ log links devices to persons (default: the folder holding --events)",
    )
    analyze.add_argument("--max-bad-rows", type=int, default=0, help="skip up to this many bad rows, then stop")
    analyze.add_argument("--json", action="store_true", help="print the summary and findings as one JSON object")

    lift = commands.add("lift", help="lift report: personalized vs holdout per placement and stage, 95%% CI")
    lift.add_argument("--since", help="first instant, ISO-8601 (UTC if no zone; default: 30 days before until)")
    lift.add_argument("--until", help="end instant (excluded), ISO-8601 (default: now)")
    lift.add_argument("--placement", help="only this placement")
    lift.add_argument("--campaign", help="only this outbound campaign's decisions (batch-decide --campaign)")
    lift.add_argument("--journey", help=JOURNEY_HELP)
    lift.add_argument("--reward-types", help="comma-separated outcome event types (default: the map's outcomes)")
    lift.add_argument("--window-hours", type=float, default=24.0, help="reward window after a decision")
    lift.add_argument("--conversion-window-days", type=float, default=7.0, help="conversion window after a decision")
    lift.add_argument("--out", help="directory for lift.html and lift.json")
    lift.add_argument("--json", action="store_true", help="print the whole report as one JSON object")

    listing = commands.add("list", help="registered versions with their data and metrics")
    listing.add_argument("--json", action="store_true")
    promote = commands.add("promote", help="make a version current, if it passes the gate on <data-dir>'s logs")
    promote.add_argument("version")
    promote.add_argument("--journey", help=BUNDLE_JOURNEY_HELP)
    promote.add_argument("--margin", type=float, default=0.0, help="how much worse than the champion is tolerated")
    promote.add_argument("--force", action="store_true", help="skip the gate (needs --reason)")
    promote.add_argument("--reason", help="why the gate is skipped; recorded in the history")
    promote.add_argument("--reward", choices=list(REWARDS), default="response", help=REWARD_HELP)

    evaluate = commands.add("evaluate", help="off-policy estimate of a policy's value on logged decisions")
    evaluate.add_argument("--model", required=True, help="a version, current, uniform, shadow or always:<item_id>")
    evaluate.add_argument("--decisions", required=True, help="decision log file or directory")
    evaluate.add_argument("--events", help="events with the outcomes (default: events/ beside the decisions)")
    evaluate.add_argument("--journey", help=BUNDLE_JOURNEY_HELP)
    evaluate.add_argument("--window-hours", type=float, default=24.0, help="reward window")
    evaluate.add_argument("--reward", choices=list(REWARDS), default="response", help=REWARD_HELP)
    evaluate.add_argument("--json", action="store_true")

    retrain = commands.add("retrain", help="train on <data-dir>'s logs, evaluate, promote through the gate")
    retrain.add_argument("--margin", type=float, default=0.0)
    retrain.add_argument("--reward", choices=list(REWARDS), default="response", help=REWARD_HELP)
    retrain.add_argument("--json", action="store_true")
    commands.add("rollback", help="make the previously current version current again")
    shadow = commands.add("shadow", help="score live traffic with a challenger beside the champion")
    shadow.add_argument("version", nargs="?", help="the challenger (omit with --off)")
    shadow.add_argument("--off", action="store_true", help="stop shadowing")
    report = commands.add("report", help="(re)write a version's HTML training report; prints its path")
    report.add_argument("version", nargs="?", help="model version (default: the current one)")
    keys_cli.add_parser(commands)
    batch_decide.add_parsers(commands)
    rebuild = commands.add(
        "rebuild", help="rebuild Redis (contexts, profiles, dedup, caps, popularity) from the journal after data loss"
    )
    rebuild.add_argument("--json", action="store_true", help="print the rebuild report as one JSON object")
    retention = commands.add(
        "retention", help="delete (or archive) the journal's day files older than --days now (docs/journal.md)"
    )
    retention.add_argument(
        "--days", type=float, default=settings.retention_days, help="keep this many days (default: retention_days)"
    )
    retention.add_argument(
        "--archive",
        default=settings.retention_archive_dir,
        help="move old day files here instead of deleting them (default: retention_archive_dir)",
    )
    compact = commands.add(
        "compact", help="rewrite the logs (today's too) without the lines of erased ids, now, while the service runs"
    )
    compact.add_argument("--json", action="store_true", help="print the compaction report as one JSON object")

    args = parser.parse_args(argv)
    settings = resolve(args, settings)
    progress = Progress(args.command, quiet=args.quiet)
    try:
        return COMMANDS[args.command](args, settings, progress)
    except WayfinderError as error:
        print(f"error: {error.message}", file=sys.stderr)
        return 2


class _Commands:
    """The subcommands, each with the common options (training/cli_options.py) beside its own."""

    def __init__(self, subparsers, common: argparse.ArgumentParser):
        self.subparsers, self.common = subparsers, common

    def add(self, name: str, **kwargs) -> argparse.ArgumentParser:
        return self.subparsers.add_parser(name, parents=[self.common], **kwargs)


def _train(args, settings: Settings, progress: Progress) -> int:
    from training.train import train

    config_dir = settings.config_dir
    journey = JourneyMap.load(args.journey or config_dir / "journey.yaml")
    summary = train(
        args.events,
        args.registry,
        journey,
        _own_catalog(args, config_dir),
        horizon_days=args.horizon_days,
        promote=not args.no_promote,
        max_bad_rows=args.max_bad_rows,
        max_rows=args.max_rows,
        progress=progress,
        decisions_path=args.decisions,
        reward_types=tuple(args.reward_types.split(",")) if args.reward_types else None,
        reward_window_hours=args.reward_window_hours,
        profiles=_read_profiles(args.profiles) if args.profiles else None,
        recent_cap=settings.recent_events_cap,
        checks=EventChecks.from_settings(journey, settings),
        split_at=args.split_at.timestamp() if args.split_at else None,
        **({"full_catalog_queries": args.full_catalog_queries} if "full_catalog_queries" in args else {}),
        **({"max_choices": args.max_choices} if "max_choices" in args else {}),
        count=progress.counter("replayed", "events and decisions").add,
    )
    if args.json:
        print(json.dumps(summary))
    else:
        print(format_summary(summary))
    return 0


def _own_catalog(args, config_dir: Path) -> Catalog | None:
    """The config dir's catalog when it belongs to the data: the config dir was named, or the journey map
    is its own. An imported data set trained with its own map has no catalog: the demo's items would
    otherwise be every data set's negatives."""
    own_map = args.journey is None or Path(args.journey).resolve() == (config_dir / "journey.yaml").resolve()
    return Catalog.load(config_dir) if "config_dir" in args.given or own_map else None


def _read_profiles(path: str) -> dict:
    """{visitor_id: profile} from JSON Lines of {"visitor_id", "profile"}."""
    with open(path) as handle:
        return {row["visitor_id"]: row["profile"] for row in map(json.loads, handle) if row}


def format_summary(summary: dict) -> str:
    lines = [
        f"version {summary['version']} ({'current' if summary['current'] else 'not promoted'}), "
        f"{summary['events']:,} events, {summary['seconds']} s",
    ]
    if describe_skipped(summary.get("skipped", {})):
        lines.append(f"  {describe_skipped(summary['skipped'])}")
    for reason, count in summary.get("bad_rows_by_reason", {}).items():
        lines.append(f"  skipped {count:,} bad row{'' if count == 1 else 's'}: {reason}")
    for model, key in (("next_stage", "auc_macro"), ("content", "auc")):
        metrics = summary["metrics"][model]
        lines.append(f"  {model}: train {metrics['rows']['train']:,} rows, test {metrics['rows']['test']:,} rows")
        for name, row in [("model", metrics["model"]), *metrics["baselines"].items()]:
            extra = f"  ndcg@3 {row['ndcg@3']} (sampled)" if "ndcg@3" in row else ""
            lines.append(f"    {name:<14} log_loss {row['log_loss']:<8} {key} {row.get(key)}  ece {row['ece']}{extra}")
        lines.append(f"    beats baselines: {metrics['beats_baselines']}")
    if summary.get("full_catalog"):
        lines.extend(format_block(summary["full_catalog"]))
    return "\n".join(lines)


def _simulate(args, settings: Settings, progress: Progress) -> int:
    from training.simulate import write_events

    with progress.step(f"simulating {args.visitors:,} visitors") as step:
        count = write_events(args.out, args.visitors, args.seed, cross_device=args.cross_device)
        step.result = f"{count:,} events"
    print(f"wrote {count:,} events of {args.visitors:,} simulated visitors to {args.out}")
    if args.cross_device > 0:
        print(f"wrote their web logins to {Path(args.out).parent / 'identities'}")
    return 0


def _import(args, settings: Settings, progress: Progress) -> int:
    from training.importers import import_dataset

    with progress.step(f"importing {args.kind} from {args.source}") as step:
        report = import_dataset(args.kind, args.source, args.out, max_bad_rows=args.max_bad_rows)
        step.result = f"{report.total_read:,} rows read"
    print(json.dumps(report.to_dict()) if args.json else report.format())
    return 0


def _analyze(args, settings: Settings, progress: Progress) -> int:
    from journal.identity import all_links
    from reports.analytics import analyze_journeys, journeys_line
    from reports.analytics_html import write_report
    from training.readers import read_events

    journey = JourneyMap.load(args.journey or settings.config_dir / "journey.yaml")
    started = time.perf_counter()
    # time bounds only: the journey report is where types and channels the map lacks are shown
    with progress.step(f"reading events from {args.events}") as step:
        checks = EventChecks.from_settings(None, settings)
        events = read_events(args.events, max_bad_rows=args.max_bad_rows, checks=checks)
        step.result = f"{len(events):,} events"
    read_s = time.perf_counter() - started
    segment = _read_segment(args.segment) if args.segment else None
    links = all_links(args.identities_from or Path(args.events).parent, events)
    with progress.step("analysing journeys"):
        figures = analyze_journeys(
            events,
            journey,
            since=args.since,
            until=args.until,
            channel=args.channel,
            visitors=segment,
            links=links,
            by=args.journeys,
        )
    analyze_s = time.perf_counter() - started - read_s
    skipped = skipped_lines(events.attrs.get("bad_lines", 0))
    html_path, json_path = write_report(figures, args.out)
    timings = {"read_s": round(read_s, 2), "analyze_s": round(analyze_s, 2)}
    timings["total_s"] = round(time.perf_counter() - started, 2)
    if args.json:
        body = {"summary": figures["summary"], "findings": figures["findings"], "seconds": timings, "skipped": skipped}
        print(json.dumps(body))
        return 0
    summary = figures["summary"]
    print(
        f"{summary['events']:,} events, {summary['visitors']:,} journeys, {summary['converting']:,} converting; "
        f"read {timings['read_s']} s, analysed {timings['analyze_s']} s, total {timings['total_s']} s"
    )
    print(journeys_line(summary))
    if describe_skipped(skipped):
        print(describe_skipped(skipped))
    print("Where the real journey departs from the map:")
    for finding in figures["findings"][:8]:
        print(f"  - {finding['text']}")
    print(f"wrote {html_path} and {json_path}")
    return 0


def _read_segment(path: str) -> set[str]:
    """Visitor ids, one a line (a first line `visitor_id` is a header); blank lines are ignored."""
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as exc:
        raise WayfinderError(f"cannot read the segment file {path}: {exc.strerror}") from exc
    ids = {line.strip() for line in lines if line.strip()}
    return ids - {"visitor_id"}


def _query_count(text: str) -> int | None:
    if text == "all":
        return None
    if text.isdigit() and int(text) > 0:
        return int(text)
    raise argparse.ArgumentTypeError(f"{text!r} is neither a positive number nor all")


def _instant(text: str) -> dt.datetime:
    try:
        stamp = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO-8601 date or time") from exc
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)


def _lift(args, settings: Settings, progress: Progress) -> int:
    from reports.lift import lift_from_log, parse_instant, report_window
    from reports.lift_files import format_table, write_lift_report

    journey = JourneyMap.load(args.journey or settings.config_dir / "journey.yaml")
    since = parse_instant(args.since, "--since") if args.since else None
    until = parse_instant(args.until, "--until") if args.until else None
    since, until = report_window(since, until)  # a bad window is refused before any work is announced
    with progress.step(f"reading the logs under {args.data_dir}"):
        report = lift_from_log(
            args.data_dir,
            journey,
            since=since,
            until=until,
            placement=args.placement,
            campaign=args.campaign,
            reward_types=tuple(args.reward_types.split(",")) if args.reward_types else None,
            window_hours=args.window_hours,
            conversion_window_days=args.conversion_window_days,
        )
    paths = write_lift_report(report, args.out) if args.out else None
    if args.json:
        print(json.dumps(report))
        return 0
    print(format_table(report))
    if paths:
        print(f"wrote {paths[0]} and {paths[1]}")
    return 0


def _list(args, settings: Settings, progress: Progress) -> int:
    registry = Registry(args.registry)
    current = registry.current()
    rows = []
    for version in registry.versions():
        manifest = registry.manifest(version)
        rows.append(
            {
                "version": version,
                "current": version == current,
                "created_at": manifest["created_at"],
                "events": manifest["data"]["events"],
                "time_range": manifest["data"]["time_range"],
                "next_stage_log_loss": manifest["metrics"]["next_stage"]["model"]["log_loss"],
                "content_auc": manifest["metrics"]["content"]["model"]["auc"],
            }
        )
    if args.json:
        print(json.dumps(rows))
        return 0
    if not rows:
        print(f"no versions in {args.registry}: run `python -m training train --events PATH`")
    for row in rows:
        mark = "*" if row["current"] else " "
        print(
            f"{mark} {row['version']}  {row['created_at'][:19]}  {row['events']:>9,} events  "
            f"next_stage log_loss {row['next_stage_log_loss']}  content auc {row['content_auc']}"
        )
    return 0


def _promote(args, settings: Settings, progress: Progress) -> int:
    from training.lifecycle import gated_promote

    if args.force and not args.reason:
        raise WayfinderError("--force needs --reason '...': it is recorded in the promotion history")
    registry = Registry(args.registry)
    served_map = settings.config_dir / "journey.yaml"
    journey = journey_for(registry, args.version, args.journey, served_map)
    _warn_if_not_served(args.version, journey, served_map)
    doing = "promoting without the gate" if args.force else f"gating {args.version} on the logs under {args.data_dir}"
    with progress.step(doing):
        outcome = gated_promote(
            registry,
            args.version,
            journey,
            Catalog.load(settings.config_dir),
            Path(args.data_dir),
            margin=args.margin,
            force_reason=args.reason if args.force else None,
            reward=args.reward,
        )
    if describe_skipped(outcome.get("skipped", {})):
        print(describe_skipped(outcome["skipped"]))
    if "difference" in outcome:
        print(_gate_line(outcome))
    print(f"{args.version} is current")
    return 0


def _gate_line(outcome: dict) -> str:
    def value(entry):
        low, high = entry["ci"]
        return f"{entry['value']:.4f} (95% CI {low:.4f} to {high:.4f})"

    return (
        f"challenger {value(outcome['challenger']['ips'])}, champion {value(outcome['champion']['ips'])}, "
        f"difference {value(outcome['difference'])}, margin {outcome['margin']}"
    )


def _evaluate(args, settings: Settings, progress: Progress) -> int:
    from training.evaluate import evaluate, load_logged

    registry = Registry(args.registry)
    journey = _evaluated_journey(args, registry, settings.config_dir / "journey.yaml")
    events = args.events or str(Path(args.decisions).parent / "events")
    with progress.step(f"reading decisions from {args.decisions} and outcomes from {events}") as step:
        logged = load_logged(args.decisions, events, journey, args.window_hours)
        step.result = f"{len(logged.impressions):,} impressions, {len(logged.events):,} events"
    with progress.step(f"scoring {args.model} on the logged decisions"):
        result = evaluate(
            args.model,
            logged.impressions,
            logged.events,
            registry,
            journey,
            Catalog.load(settings.config_dir),
            reward=args.reward,
        )
    result["outcome_join"] = logged.join
    result["skipped"] = logged.skipped
    if args.json:
        print(json.dumps(result))
        return 0
    print(
        f"policy {result['policy']} on {result['decisions']:,} decisions, {result['impressions']:,} impressions, "
        f"{result['reward']} per impression"
    )
    for name in ("logged_value", "ips", "snips", "dr"):
        if name in result:
            low, high = result[name]["ci"]
            print(f"  {name:<13} {result[name]['value']:.4f}  (95% CI {low:.4f} to {high:.4f})")
    print(f"  effective sample size {result['effective_sample_size']:,}, agreement {result['match_rate']:.1%}")
    for warning in result["warnings"]:
        print(f"  warning: {warning}")
    if describe_skipped(logged.skipped):
        print(f"  {describe_skipped(logged.skipped)}")
    return 0


def _evaluated_journey(args, registry: Registry, config_map: Path) -> JourneyMap:
    """A model's own journey map (a different --journey is refused); for uniform, always:<item> and shadow
    policies, which no bundle trained, --journey or the config dir's map."""
    policy = args.model
    if policy == "uniform" or policy.startswith(("always:", "shadow")):
        return JourneyMap.load(args.journey or config_map)
    version = registry.current() if policy == "current" else policy
    if version is None:
        raise NotFound(f"no current model to evaluate in {registry.root}: train one or name a version")
    return journey_for(registry, version, args.journey, config_map)


def _warn_if_not_served(version: str, journey: JourneyMap, served_map: Path) -> None:
    """Say so when a service reading this config dir would load `version` under another journey map."""
    try:
        served = JourneyMap.load(served_map)
    except WayfinderError:
        return  # no map there: the service's own config is elsewhere
    changed = differences(journey, served)
    if changed:
        loads = FeatureSpec(journey).signature == FeatureSpec(served).signature
        print(
            f"warning: {version} was trained on another journey map than {served_map} ({describe(changed, 'there')}); "
            "a service reading that config dir "
            + ("serves it under that map" if loads else "cannot load it (it answers from the fallback)"),
            file=sys.stderr,
        )


def _retrain(args, settings: Settings, progress: Progress) -> int:
    from training.lifecycle import retrain

    journey = JourneyMap.load(settings.config_dir / "journey.yaml")
    outcome = retrain(
        Registry(args.registry),
        journey,
        Catalog.load(settings.config_dir),
        Path(args.data_dir),
        args.margin,
        progress,
        reward=args.reward,
        recent_cap=settings.recent_events_cap,
    )
    if args.json:
        print(json.dumps(outcome, default=str))
    elif outcome["trained"] is None:
        print(f"not retrained: {outcome['reason']}")
    elif outcome["promoted"]:
        if "difference" in outcome:
            print(_gate_line(outcome))
        print(f"{outcome['trained']['version']} is current")
    else:
        print(f"{outcome['trained']['version']} registered, not promoted: {outcome['reason']}")
    return 0


def _shadow(args, settings: Settings, progress: Progress) -> int:
    registry = Registry(args.registry)
    if args.off:
        registry.set_shadow(None)
        print("shadowing stopped")
    elif args.version:
        registry.set_shadow(args.version)
        print(f"{args.version} scores live traffic beside {registry.current()}; its choices go to the decision log")
    else:
        print(f"shadowing {registry.shadow() or 'nothing'}")
    return 0


def _rollback(args, settings: Settings, progress: Progress) -> int:
    version = Registry(args.registry).rollback()
    print(f"rolled back: {version} is current")
    return 0


def _report(args, settings: Settings, progress: Progress) -> int:
    from training.report import write_training_report

    registry = Registry(args.registry)
    version = args.version or registry.current()
    if version is None:
        raise NotFound(f"no current version in {args.registry}: name a version (see `python -m training list`)")
    if version not in registry.versions():
        raise NotFound(f"model version {version} not found in {args.registry}; see `python -m training list`")
    print(write_training_report(registry.path(version)))
    return 0


def _rebuild(args, settings: Settings, progress: Progress) -> int:
    """Reads --data-dir (the journal) and WAYFINDER_REDIS_URL (empty: the embedded Redis)."""
    from journal.rebuild import catalog_item_ids, connect, rebuild

    client = connect(settings)
    journey = JourneyMap.load(settings.config_dir / "journey.yaml")
    with progress.step(f"replaying the journal under {settings.data_dir} into Redis"):
        report = rebuild(client, settings, journey, catalog_item_ids(client, settings))
    if args.json:
        print(json.dumps(report.to_dict()))
    else:
        print(
            f"rebuilt {settings.tenant} from {settings.data_dir}: {report.events:,} events, {report.profiles:,} "
            f"contexts ({report.contexts_written:,} written, {report.contexts_replayed_again:,} replayed again), "
            f"{report.profiles_restored:,} visitor profiles restored (of {report.profiles_logged:,} logged), "
            f"{report.dedup_ids:,} event ids in the dedup window, {report.decisions_counted:,} decisions in "
            f"{report.counter_keys:,} counter keys, {report.popular_items:,} popular items, "
            f"{report.bad_lines} bad lines skipped, in {report.seconds:.1f} s"
        )
    return 0


def _retention(args, settings: Settings, progress: Progress) -> int:
    from journal.retention import apply_retention

    with progress.step(f"applying retention ({args.days:g} days) under {args.data_dir}"):
        report = apply_retention(args.data_dir, args.days, args.archive)
    print(report.format())
    return 0


def _compact(args, settings: Settings, progress: Progress) -> int:
    """Reads WAYFINDER_ERASURE_SECRET (empty: the secret the service made in <data-dir>/erasures)."""
    from journal.compact import compact
    from journal.erasures import Erasures

    data_dir = Path(args.data_dir)
    with progress.step(f"compacting the logs under {data_dir}"):
        report = compact(data_dir, Erasures(data_dir, settings.erasure_secret))
    if args.json:
        print(json.dumps({**dataclasses.asdict(report), "lines_dropped": report.lines_dropped}))
        return 0
    for path, lines in report.rewritten.items():
        print(f"{path}: {lines:,} lines dropped")
    print(
        f"compacted {data_dir}: {report.lines_dropped:,} lines of erased ids dropped from {len(report.rewritten):,} "
        f"of {report.files:,} files; {report.erasures:,} erasures compacted, in {report.seconds:.1f} s"
    )
    return 0


COMMANDS = {
    "train": _train,
    "simulate": _simulate,
    "import": _import,
    "analyze": _analyze,
    "lift": _lift,
    "list": _list,
    "promote": _promote,
    "rollback": _rollback,
    "report": _report,
    "evaluate": _evaluate,
    "retrain": _retrain,
    "shadow": _shadow,
    "rebuild": _rebuild,
    "keys": lambda args, settings, progress: keys_cli.run(args, settings),
    "retention": _retention,
    "compact": _compact,
    "uplift": batch_decide.run_uplift,
    "batch-decide": batch_decide.run_batch,
}

if __name__ == "__main__":
    sys.exit(main())
