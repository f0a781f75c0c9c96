"""Outbound in bulk: decide for a whole audience at once, with an uplift model, and log every decision.

`python -m training uplift` fits the uplift model (training/uplift.py) on a randomised log and saves it;
`python -m training batch-decide` reads it and decides for an audience (a profile segment, or a file of
ids), chunk by chunk: one feature matrix and one prediction per chunk, rows written as they are decided
(JSON Lines or Parquet by the output's extension), each decision appended to `<data dir>/decisions/` in
the service's decision record format, with its propensity, so `lift` and `evaluate` read campaigns as
they read web decisions. See docs/outbound.md.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from config.settings import Settings
from journal.erasures import Erasures
from journal.identity import all_links, person_keys
from journal.join import join_outcomes
from journal.profile_log import LatestProfiles
from journal.records import RECORD_VERSION, VERSION_FIELD
from journal.writer import DailyLog
from models.errors import DiskUnavailable, NotFound, ValidationFailed, WayfinderError
from models.journey import JourneyMap
from models.policy import holdout_bucket
from training.decision_logs import placement_rewards, read_impressions
from training.progress import Progress
from training.readers import read_events
from training.uplift import LEARNERS, NOTHING, UpliftModel, feature_value
from training.uplift_evaluation import fit, log_customers

CHUNK = 10_000
HOLDOUT, UPLIFT = "holdout", "uplift"
SEND, NOTHING_ACTION = "send", "nothing"
COLUMNS = pa.schema(
    [
        ("visitor_id", pa.string()),
        ("person", pa.string()),
        ("campaign", pa.string()),
        ("placement", pa.string()),
        ("action", pa.string()),
        ("item", pa.string()),
        ("channel", pa.string()),
        ("expected_uplift", pa.float64()),
        ("propensity", pa.float64()),
        ("policy", pa.string()),
        ("decision_id", pa.string()),
    ]
)
"""One output row per person of the audience."""


def add_parsers(commands) -> None:
    """The `uplift` and `batch-decide` commands (training/__main__.py's _Commands)."""
    uplift = commands.add("uplift", help="fit an uplift model (T- or X-learner) on a randomised log; save it")
    uplift.add_argument("--decisions", required=True, help="decision log file or directory of the randomised test")
    uplift.add_argument("--events", help="events with the outcomes (default: events/ beside the decisions)")
    uplift.add_argument("--journey", help="journey map YAML: its profile_features are the model's features")
    uplift.add_argument("--placement", help="only this placement's decisions (default: all)")
    uplift.add_argument("--control", help="the logged arm that means 'no action' (default: the one arm named no_*)")
    uplift.add_argument("--learner", choices=LEARNERS, default="x", help="T- or X-learner (default: x)")
    uplift.add_argument("--window-hours", type=float, default=24.0, help="reward window after a decision")
    uplift.add_argument("--seed", type=int, default=0, help="the cross-fitting split of the switch margin")
    uplift.add_argument("--out", required=True, help="the model file to write (JSON)")

    batch = commands.add("batch-decide", help="decide for an audience (segment or id file) with an uplift model")
    batch.add_argument("--placement", required=True, help="the outbound placement the decisions are logged under")
    who = batch.add_mutually_exclusive_group(required=True)
    who.add_argument("--segment", help="everyone whose profile attribute `segment` is (or lists) this value")
    who.add_argument("--ids", help="file of ids, one a line (a first line `visitor_id` is a header)")
    batch.add_argument("--out", required=True, help="output file: .jsonl (JSON Lines) or .parquet")
    batch.add_argument("--uplift-model", required=True, help="model file written by `python -m training uplift`")
    batch.add_argument(
        "--profiles", help="JSON Lines of {visitor_id, profile} (default: the profile log, <data-dir>/profiles/)"
    )
    batch.add_argument("--campaign", help="campaign name: the holdout is drawn per campaign (default: placement:date)")
    batch.add_argument(
        "--cost-per-send", type=float, default=0.0, help="in the reward's units: send only where uplift exceeds it"
    )
    batch.add_argument("--holdout-share", type=float, default=0.0, help="share of persons held out of the campaign")
    batch.add_argument(
        "--epsilon", type=float, default=0.0, help="explore: a uniformly random action with this probability"
    )
    batch.add_argument("--seed", type=int, default=None, help="seed of the exploration draws")
    batch.add_argument("--channel", help="the channel written and logged (default: the model's log's channel)")
    batch.add_argument("--chunk", type=int, default=CHUNK, help="persons decided per chunk")
    batch.add_argument("--no-log", action="store_true", help="write the file only, log no decision (a dry run)")
    batch.add_argument("--json", action="store_true", help="print the summary as one JSON object")


# -- fitting ---------------------------------------------------------------------------------------


def run_uplift(args, settings: Settings, progress: Progress) -> int:
    journey = JourneyMap.load(args.journey or settings.config_dir / "journey.yaml")
    if not journey.profile_features:
        raise ValidationFailed("the journey map declares no profile_features: the uplift model has no features")
    events_path = args.events or str(Path(args.decisions).parent / "events")
    with progress.step(f"reading decisions from {args.decisions} and outcomes from {events_path}") as step:
        impressions = read_impressions(args.decisions)
        if not len(impressions):
            raise NotFound(f"no logged decisions in {args.decisions}")
        rewards = placement_rewards(impressions)
        joined = join_outcomes(
            impressions, read_events(events_path), journey.outcomes, args.window_hours * 3600, rewards
        ).impressions
        customers = log_customers(joined, journey.profile_features, args.placement)
        step.result = f"{len(customers):,} decisions"
    placement = args.placement or _only(joined["placement"], "placement")
    channels = joined.loc[joined["placement"] == placement, "channel"].dropna()
    meta = {
        "placement": placement,
        "channel": str(channels.mode().iloc[0]) if len(channels) else None,
        "reward": list(rewards.get(placement) or journey.outcomes),
        "trained_on": str(args.decisions),
    }
    with progress.step(f"fitting the {args.learner.upper()}-learner"):
        model = fit(customers, journey.profile_features, args.learner, args.control, meta, seed=args.seed)
    model.meta["version"] = f"uplift-{args.learner}-{model.meta['fitted_at']}"
    path = model.save(args.out)
    average = model.predict_uplift(customers.X).mean(axis=0)
    print(
        f"{model.version}: {args.learner.upper()}-learner on {len(customers):,} decisions of {placement} "
        f"(reward {', '.join(model.meta['reward'])}); control {model.control_}"
    )
    for arm, mean in zip(model.arms_, average):
        print(f"  {arm:<16} mean reward {model.meta['mean_reward_by_arm'][arm]:.4f}, mean predicted uplift {mean:+.4f}")
    margin = model.meta["switch_margin"]
    print(f"  default arm {model.meta['default_arm']}, switch margin {margin:g} (cross-fitted)")
    print(f"wrote {path}")
    return 0


def _only(values: pd.Series, what: str) -> str:
    found = sorted(set(values.dropna()))
    if len(found) != 1:
        raise ValidationFailed(f"the log has several {what}s {found[:10]}: name one with --{what}")
    return str(found[0])


# -- the audience ----------------------------------------------------------------------------------


class Profiles:
    """Who can be decided for and what is known of them: a JSON Lines file of {visitor_id, profile}, or the
    profile log's latest profile per id (journal.profile_log)."""

    def __init__(self, file: str | None, data_dir: Path):
        self.profiles: dict[str, dict] | None = None
        self.latest: LatestProfiles | None = None
        if file:
            try:
                with open(file, encoding="utf-8") as handle:
                    rows = (json.loads(line) for line in handle if line.strip())
                    self.profiles = {str(r["visitor_id"]): r.get("profile") or {} for r in rows}
            except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
                raise ValidationFailed(f"cannot read the profiles file {file}: {exc}") from exc
        else:
            self.latest = LatestProfiles().read(data_dir / "profiles")
            self.known = set(self.latest.visitors())

    def get(self, visitor_id: str) -> dict | None:
        if self.profiles is not None:
            return self.profiles.get(visitor_id)
        return self.latest.profile(visitor_id) if visitor_id in self.known else None

    def ids(self) -> list[str]:
        return list(self.profiles) if self.profiles is not None else self.latest.visitors()


def in_segment(profile: dict | None, segment: str) -> bool:
    """The profile's `segment` attribute is `segment`, or a list that holds it."""
    found = feature_value(profile or {}, "segment")
    return found == segment or (isinstance(found, list | tuple) and segment in found)


def segment_members(profiles: Profiles, segment: str) -> Iterator[tuple[str, dict]]:
    for visitor_id in profiles.ids():
        profile = profiles.get(visitor_id)
        if in_segment(profile, segment):
            yield visitor_id, profile


def listed(path: str, profiles: Profiles) -> Iterator[tuple[str, dict | None]]:
    """The ids of a file, one a line (a first line `visitor_id` is a header, blank lines are skipped), in order."""
    try:
        handle = open(path, encoding="utf-8")
    except OSError as exc:
        raise ValidationFailed(f"cannot read the ids file {path}: {exc.strerror}") from exc
    with handle:
        for number, line in enumerate(handle):
            visitor_id = line.strip()
            if visitor_id and not (number == 0 and visitor_id == "visitor_id"):
                yield visitor_id, profiles.get(visitor_id)


def chunks(audience: Iterator[tuple[str, dict | None]], size: int) -> Iterator[list[tuple[str, dict | None]]]:
    chunk = []
    for member in audience:
        chunk.append(member)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# -- deciding --------------------------------------------------------------------------------------


@dataclasses.dataclass
class Options:
    placement: str
    campaign: str
    channel: str | None
    cost_per_send: float = 0.0
    holdout_share: float = 0.0
    epsilon: float = 0.0
    seed: int | None = None

    def check(self) -> None:
        if not 0.0 <= self.holdout_share < 1.0:
            raise ValidationFailed("--holdout-share is a share: at least 0 and under 1")
        if not 0.0 <= self.epsilon <= 1.0:
            raise ValidationFailed("--epsilon is a probability: between 0 and 1")


@dataclasses.dataclass
class Summary:
    audience: int = 0
    sends: dict = dataclasses.field(default_factory=dict)
    nothing: int = 0
    holdout: int = 0
    explored: int = 0
    without_profile: int = 0
    erased: int = 0
    logged: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    """This process's CPU time while deciding (on a busy machine, wall time also counts others' work)."""

    @property
    def per_second(self) -> float:
        return self.audience / self.seconds if self.seconds else 0.0


class Decider:
    """Decides chunk by chunk: features, one prediction, the policy (with exploration and the holdout)."""

    def __init__(self, model: UpliftModel, options: Options, data_dir: Path):
        options.check()
        self.model, self.options = model, options
        self.actions = [*model.arms_, model.control_]  # the last one is "nothing": the log's control arm
        self.rng = np.random.default_rng(options.seed)
        self.links = all_links(data_dir)
        self.erasures = Erasures.of_log(data_dir / "decisions")

    def decide(self, chunk: list[tuple[str, dict | None]], summary: Summary) -> tuple[pa.Table, list[str], float]:
        if self.erasures is not None:
            kept = [(v, p) for v, p in chunk if not self.erasures.is_erased(v)]
            summary.erased += len(chunk) - len(kept)
            chunk = kept
        ids = [visitor_id for visitor_id, _ in chunk]
        profiles = [profile for _, profile in chunk]
        now = time.time()
        n, nothing = len(ids), len(self.model.arms_)
        uplift = self.model.predict_uplift(self.model.design(profiles))
        greedy = self.model.choose(uplift, self.options.cost_per_send)
        greedy = np.where(greedy == NOTHING, nothing, greedy)
        chosen, propensity, explored = greedy, np.ones(n), np.zeros(n, dtype=bool)
        if self.options.epsilon > 0:
            explore = self.rng.random(n) < self.options.epsilon
            chosen = np.where(explore, self.rng.integers(0, len(self.actions), n), greedy)
            propensity = (1 - self.options.epsilon) * (chosen == greedy) + self.options.epsilon / len(self.actions)
            explored = explore & (chosen != greedy)
        persons = person_keys(pd.DataFrame({"visitor_id": ids, "user_id": None, "ts": now}), self.links)
        held = np.zeros(n, dtype=bool)
        if self.options.holdout_share > 0:
            held = np.array([holdout_bucket(p, self.options.campaign) < self.options.holdout_share for p in persons])
        chosen = np.where(held, nothing, chosen)
        propensity = np.where(held, 1.0, propensity)
        summary.explored += int((explored & ~held).sum())
        expected = np.zeros(n)
        sent = chosen != nothing
        expected[sent] = uplift[np.flatnonzero(sent), chosen[sent]]
        decision_ids = [uuid.uuid4().hex for _ in range(n)]
        items = [self.actions[i] for i in chosen]
        channel = self.options.channel
        table = pa.table(
            {
                "visitor_id": ids,
                "person": [str(p) for p in persons],
                "campaign": [self.options.campaign] * n,
                "placement": [self.options.placement] * n,
                "action": np.where(sent, SEND, NOTHING_ACTION).tolist(),
                "item": [item if s else None for item, s in zip(items, sent)],
                "channel": [channel if s else None for s in sent],
                "expected_uplift": np.round(expected, 6),
                "propensity": np.round(propensity, 6),
                "policy": np.where(held, HOLDOUT, UPLIFT).tolist(),
                "decision_id": decision_ids,
            },
            schema=COLUMNS,
        )
        records = self._records(table, items, profiles, now)
        summary.audience += n
        summary.holdout += int(held.sum())
        summary.nothing += int((~sent & ~held).sum())
        summary.without_profile += sum(1 for p in profiles if not p)
        for item, count in zip(*np.unique(np.asarray(items, dtype=object)[sent], return_counts=True)):
            summary.sends[item] = summary.sends.get(item, 0) + int(count)
        return table, records, now

    def _records(self, table: pa.Table, items: list[str], profiles: list, now: float) -> list[str]:
        """The decision records as JSON lines, as the service logs them (service/decide.py) plus the campaign.
        "Nothing" is logged as the control arm the model learnt from (Hillstrom's no_email), so off-policy
        evaluation sees it as the action it is; an item's score is its expected uplift. The fields every
        record of the chunk shares are encoded once."""
        stamp = dt.datetime.fromtimestamp(now, dt.UTC).isoformat().replace("+00:00", "Z")
        shared = {
            VERSION_FIELD: RECORD_VERSION,
            "user_id": None,
            "placement": self.options.placement,
            "stage": None,
            "model_version": self.model.version,
            "candidates": self.actions,
            "reward": list(self.model.meta.get("reward") or ()),
            "ts": now,
            "timestamp": stamp,
            "channel": self.options.channel,
            "context": None,
            "campaign": self.options.campaign,
        }
        head = json.dumps(shared, separators=(",", ":"))[:-1]
        item_json = {item: json.dumps(item) for item in self.actions}
        features = list(self.model.features_)
        columns = table.select(["visitor_id", "propensity", "policy", "decision_id", "expected_uplift"]).to_pydict()
        lines = []
        for row, (visitor_id, propensity, policy, decision_id, expected) in enumerate(zip(*columns.values())):
            profile = profiles[row] or {}
            attributes = json.dumps({name: feature_value(profile, name) for name in features}, separators=(",", ":"))
            lines.append(
                f'{head},"decision_id":"{decision_id}","visitor_id":{json.dumps(visitor_id)},'
                f'"items":[{{"item_id":{item_json[items[row]]},"position":0,"propensity":{propensity!r},'
                f'"score":{expected!r}}}],"policy":"{policy}","profile":{attributes}}}\n'
            )
        return lines


class DecisionLines:
    """Appends a chunk's encoded decision records to the decision log's day file in one write
    (journal.writer.DailyLog.append_lines: its file, lock and torn-line rule); a chunk shares one instant."""

    def __init__(self, directory: Path, host: str | None):
        self.log = DailyLog(directory, host=host)

    def append(self, lines: list[str], ts: float) -> None:
        try:
            self.log.append_lines(lines, ts)
        except OSError as exc:
            raise DiskUnavailable(
                f"cannot write the decision log ({exc.strerror}): the campaign stopped at this chunk; "
                "free disk space and run it again for the rest"
            ) from exc


# -- writing ---------------------------------------------------------------------------------------


class Output:
    """The rows, chunk by chunk: JSON Lines (buffered) or Parquet (one row group per chunk), by extension."""

    def __init__(self, path: str):
        self.path = Path(path)
        suffix = self.path.suffix.lower()
        if suffix not in (".jsonl", ".parquet"):
            raise ValidationFailed(f"--out {path}: name a .jsonl or .parquet file")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.parquet = pq.ParquetWriter(self.path, COLUMNS) if suffix == ".parquet" else None
        self.text = open(self.path, "w", encoding="utf-8", buffering=1 << 20) if self.parquet is None else None

    def write(self, table: pa.Table) -> None:
        if self.parquet is not None:
            self.parquet.write_table(table)
            return
        frame = table.to_pandas()
        text = frame.to_json(orient="records", lines=True, double_precision=6) if len(frame) else ""
        self.text.write(text if not text or text.endswith("\n") else text + "\n")

    def close(self) -> None:
        if self.parquet is not None:
            self.parquet.close()
        else:
            self.text.close()


def batch_decide(
    model: UpliftModel,
    audience: Iterator[tuple[str, dict | None]],
    out: str,
    options: Options,
    data_dir: Path,
    journal_host: str | None = None,
    log: bool = True,
    chunk: int = CHUNK,
) -> Summary:
    """Decide for every member of `audience`, writing `out` and logging to `<data_dir>/decisions/` as it goes."""
    started, cpu = time.perf_counter(), time.process_time()
    decider = Decider(model, options, data_dir)
    decision_log = DecisionLines(data_dir / "decisions", journal_host) if log else None
    summary = Summary()
    output = Output(out)
    try:
        for members in chunks(audience, max(1, chunk)):
            table, records, now = decider.decide(members, summary)
            output.write(table)
            if decision_log is not None and records:
                decision_log.append(records, now)
                summary.logged += len(records)
    finally:
        output.close()
    summary.seconds = time.perf_counter() - started
    summary.cpu_seconds = time.process_time() - cpu
    return summary


def run_batch(args, settings: Settings, progress: Progress) -> int:
    model = UpliftModel.load(args.uplift_model)
    data_dir = Path(args.data_dir)
    fitted_for = model.meta.get("placement")
    if fitted_for and fitted_for != args.placement:
        print(f"warning: the uplift model was fit on {fitted_for}'s log, not {args.placement}'s", file=sys.stderr)
    today = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
    options = Options(
        placement=args.placement,
        campaign=args.campaign or f"{args.placement}:{today}",
        channel=args.channel or model.meta.get("channel"),
        cost_per_send=args.cost_per_send,
        holdout_share=args.holdout_share,
        epsilon=args.epsilon,
        seed=args.seed,
    )
    started = time.perf_counter()
    with progress.step("reading profiles " + (f"from {args.profiles}" if args.profiles else f"under {data_dir}")):
        profiles = Profiles(args.profiles, data_dir)
    audience = segment_members(profiles, args.segment) if args.segment else listed(args.ids, profiles)
    with progress.step(f"deciding campaign {options.campaign} for {args.segment or args.ids}"):
        summary = batch_decide(
            model, audience, args.out, options, data_dir, settings.journal_host, not args.no_log, args.chunk
        )
    total = time.perf_counter() - started
    body = {
        **dataclasses.asdict(summary),
        "per_second": round(summary.per_second),
        "per_cpu_second": round(summary.audience / summary.cpu_seconds) if summary.cpu_seconds else None,
        "total_seconds": round(total, 3),
        "campaign": options.campaign,
        "out": args.out,
        "decisions_logged_to": None if args.no_log else str(data_dir / "decisions"),
    }
    if not summary.audience:
        nobody = f"no profile in segment {args.segment}" if args.segment else f"no id in {args.ids}"
        raise WayfinderError(f"nobody to decide for: {nobody}")
    if args.json:
        print(json.dumps(body))
        return 0
    sends = ", ".join(f"{item} {count:,}" for item, count in sorted(summary.sends.items())) or "none"
    print(
        f"campaign {options.campaign}: {summary.audience:,} persons; sends {sends}; nothing {summary.nothing:,}; "
        f"holdout {summary.holdout:,}; explored {summary.explored:,}; without a profile {summary.without_profile:,}"
        + (f"; {summary.erased:,} erased ids skipped" if summary.erased else "")
    )
    print(
        f"decided in {summary.seconds:.2f} s ({summary.per_second:,.0f} persons/s), {total:.2f} s with the profiles; "
        f"wrote {args.out}"
        + ("" if args.no_log else f", logged {summary.logged:,} decisions to {body['decisions_logged_to']}")
    )
    return 0
