"""Deciding what a visitor sees in a placement (DESIGN.md section 5), with a trace of why."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import logging
import time
import uuid

import numpy as np

from journal.erasures import erased_fields
from journal.group_commit import BackgroundCommit
from journal.writer import DailyLog
from models import channel_choice
from models.bundle import ModelBundle
from models.catalog import Catalog, Placement
from models.errors import Erased, NotFound, StoreUnavailable, ValidationFailed
from models.item_table import item_table
from models.policy import holdout_bucket, select, with_uncertainty_bonus
from models.pools import Pool
from models.rules import Rules
from models.scoring import (
    SHORTLIST,
    Scored,
    pool_by_popularity,
    retrieve,
    score_candidates,
    score_channels,
    shortlist,
    top_contributions,
)
from service import caps
from service.catalog_store import CatalogStore
from service.eligibility import screen
from service.explain import caps_state, describe, score_reason
from service.model_holder import ModelHolder
from service.rate_limits import PendingCheck
from service.store import ContextStore, VisitorState

log = logging.getLogger(__name__)
TOP_UP = 3
"""Over a large pool, fewer than this many eligible items per slot asked for are topped up by popularity,
so diversity (max_per_tag) and exploration still have a choice."""


@dataclasses.dataclass
class Situation:
    """One decision's inputs, as read: who, where, when, and what the store and model said."""

    request: dict
    now: float
    channel: str | None
    profile_id: str
    catalog: Catalog
    placement: Placement
    bundle: ModelBundle | None
    state: VisitorState | None
    limit: int
    trace: dict
    permitted: list[str] = dataclasses.field(default_factory=list)
    """With channel choose: the placement's channels that may reach this person now (consent, quiet hours,
    contact policy), in the placement's order; `refused`: why each other one may not."""
    refused: dict[str, str] = dataclasses.field(default_factory=dict)
    channel_propensity: float = 1.0
    """With channel choose: the policy's probability of the channel it chose (1 without exploration)."""
    nothing: str | None = None
    """With channel choose: why the decision sends nothing (no channel may be used), else None."""

    @property
    def context(self) -> dict | None:
        return self.state.context if self.state else None

    @property
    def profile(self) -> dict:
        return self.state.profile if self.state else {}

    @property
    def impressions(self) -> dict[str, int]:
        return self.state.impressions if self.state else {}

    @property
    def stage(self) -> str | None:
        return self.context["stage"] if self.context else None


class DecisionEngine:
    def __init__(
        self,
        store: ContextStore,
        catalogs: CatalogStore,
        models: ModelHolder,
        rules: Rules,
        decision_log: DailyLog | BackgroundCommit,
        seed: int | None = None,
        contact_limit: int = 3,
    ):
        self.store = store
        self.catalogs = catalogs
        self.models = models
        self.rules = rules
        self.decision_log = decision_log
        self.rng = np.random.default_rng(seed)
        self.contact_limit = contact_limit
        """The contact policy: at most this many messages per person per outbound channel per week."""

    def decide(self, request: dict, rate_check: PendingCheck | None = None) -> dict:
        """Rank the placement's eligible candidates for this visitor now, count and log what is shown. A
        `rate_check` travels with the one read, and refuses (429) before anything is ranked, counted or logged."""
        refused = self.store.journey.unknown_fields(None, (request.get("context") or {}).get("channel"))
        if refused:
            raise ValidationFailed(
                "the journey map does not know this channel", {"context.channel": refused["channel"]}
            )
        named = {"visitor_id": request["visitor_id"], "user_id": request.get("user_id")}
        erased = erased_fields(self.store.erasures, named)
        if erased:
            raise Erased("the request names an erased id: send a new id", erased)
        now = time.time()
        catalog = self.catalogs.current()
        if request["placement"] not in catalog.placements:
            catalog = self.catalogs.refresh()  # made by another worker since our last read?
        placement = _placement(catalog, request["placement"])
        bundle = self.models.get()
        profile_id = request.get("user_id") or request["visitor_id"]
        trace: dict = {"removed": [], "boosts": [], "pinned": []}
        state = self._read(profile_id, [] if bundle else catalog.pool(placement), trace, rate_check)
        if state is not None and state.person:  # a linked device: its person's context, counters and holdout
            profile_id = state.person
        if state is not None:
            catalog = self.catalogs.sync(state.catalog_version)
            placement = _placement(catalog, request["placement"])
        here = Situation(
            request=request,
            now=now,
            channel=None if placement.chooses_channel else (request.get("context") or {}).get("channel"),
            profile_id=profile_id,
            catalog=catalog,
            placement=placement,
            bundle=bundle,
            state=state,
            limit=request.get("limit") or placement.slots,
            trace=trace,
        )
        pool = None if request.get("candidates") else catalog.pool(placement)
        candidates = pool.ids if pool is not None else _candidates(catalog, placement, request.get("candidates"))
        trace["candidates"] = candidates
        branch = self._branch(here)
        if placement.chooses_channel:
            self._permitted_channels(here)
        next_stage: dict = {}
        eligible: list[str] = []
        if placement.chooses_channel and not here.permitted:
            shown = []
        elif branch in ("holdout", "default"):
            eligible = self._on_first_channel(here, self._defaults(here))
            shown = [(i, 1.0, [trace["branch_reason"]], None) for i in eligible][: here.limit]
        elif branch == "capped":
            shown = []
        elif pool is not None and len(pool) > SHORTLIST:
            candidates, eligible, retrieved = self._retrieve(here, branch, pool)
            trace["candidates"], trace["pool_size"] = candidates, len(pool)
            branch, shown, next_stage = self._rank(here, branch, eligible, retrieved)
        else:
            screened = screen(
                candidates, catalog, placement, here.context, here.profile, here.impressions, here.channel, now
            )
            trace["removed"] = screened.removed
            eligible = screened.eligible
            branch, shown, next_stage = self._rank(here, branch, eligible)
        decision = {
            "decision_id": uuid.uuid4().hex,
            "visitor_id": request["visitor_id"],
            "user_id": request.get("user_id"),
            "placement": placement.id,
            "stage": here.stage,
            "next_stage": next_stage,
            "items": [
                {
                    "item_id": i,
                    "score": round(float(s), 6) if s is not None else None,
                    "propensity": round(p, 6),
                    "reasons": reasons,
                }
                for i, p, reasons, s in shown
            ],
            "policy": branch,
            "model_version": bundle.version if bundle and branch == "model" else None,
        }
        if placement.chooses_channel:
            if not shown and here.nothing is None:
                here.nothing = "no eligible item" if branch != "capped" else trace["branch_reason"]
            decision["channel"] = here.channel if shown else None
            if not shown:
                decision["nothing"] = here.nothing
        shadow = self._shadow(here, branch, eligible)
        if state is not None and shown:
            self._count_impressions(here, decision["items"])
        self._log(here, decision, eligible, shadow)
        _with_display_fields(decision["items"], catalog, request.get("include"))  # for the answer, not the log
        if request.get("explain"):
            if placement.chooses_channel:
                trace.setdefault("channel", {}).update(
                    {"chosen": decision["channel"], "propensity": round(here.channel_propensity, 6)}
                )
            trace["caps"] = caps_state(catalog, placement, candidates, here.impressions, now)
            decision["explain"] = trace
        return decision

    # -- steps ---------------------------------------------------------------------------------

    def _read(
        self, profile_id: str, pool: Pool | list, trace: dict, rate_check: PendingCheck | None
    ) -> VisitorState | None:
        """The decision's one read, with the request's rate-limit check; without a model, the live popularity of the
        pool's items (of the most popular items when the pool is larger than the shortlist: they are what it
        would show). Redis unreachable: no context, and no limit (the limits fail open)."""
        large = len(pool) > SHORTLIST
        ids = [] if large else getattr(pool, "ids", pool)
        try:
            return self.store.read(
                profile_id, ids, self.catalogs.version_key, SHORTLIST * 2 if large else 0, rate_check
            )
        except StoreUnavailable as error:
            log.warning("deciding without context: %s", error.message)
            trace["store_error"] = error.message
            return None

    def _branch(self, here: Situation) -> str:
        """Which policy answers: fallback (no context), holdout, default (no consent), capped, or model."""
        placement, state, trace = here.placement, here.state, here.trace
        if state is None:
            trace["branch_reason"] = "context store unreachable"
            return "fallback"
        bucket = holdout_bucket(here.profile_id, placement.id)  # per person: the same on every device
        if bucket < placement.holdout_share:
            trace["branch_reason"] = f"holdout group (bucket {bucket:.3f} < share {placement.holdout_share})"
            return "holdout"
        if not self.rules.consent_given(here.profile):
            trace["branch_reason"] = "no consent for personalization: default experience"
            return "default"
        reached = caps.cap_reached(placement.caps, state.impressions, "p", placement.id, caps.day_of(here.now))
        if reached:
            trace["branch_reason"] = f"placement cap {reached}"
            return "capped"
        trace["branch_reason"] = "personalized"
        return "model"

    def _retrieve(self, here: Situation, branch: str, pool: Pool) -> tuple[list[str], list[str], dict[str, str]]:
        """Over a pool larger than the shortlist: (what was screened, what is eligible, why the generators
        proposed each). The model's generators propose a shortlist (with what the visitor left unfinished),
        only those are screened; when too few pass to fill the placement, the pool's most popular follow,
        screened a few at a time. Without a model (or context), popularity alone proposes."""
        retrieved: dict[str, str] = {}
        if branch == "model" and here.bundle is not None and here.context is not None:
            try:
                retrieved = retrieve(here.bundle, here.catalog, here.context, pool)
            except Exception as error:  # as in _rank: a broken model answers from popularity, and says so
                log.exception("model %s failed to retrieve, answering from popularity", here.bundle.version)
                here.trace["model_error"] = str(error)
        resumed = [r.item_id for r in self.rules.resumptions(here.context)] if here.context else []
        considered = list(dict.fromkeys([*retrieved, *(i for i in resumed if i in pool)]))
        eligible, removed = self._screen(here, considered)
        needed = min(SHORTLIST, TOP_UP * here.limit)
        if len(eligible) < needed:
            seen = set(considered)
            live = here.state.popularity if here.state else {}
            fresh = (i for i in pool_by_popularity(here.bundle, pool, here.stage, live) if i not in seen)
            while len(eligible) < needed:
                chunk = list(dict.fromkeys(itertools.islice(fresh, needed - len(eligible))))
                if not chunk:
                    break
                seen.update(chunk)
                considered += chunk
                more, gone = self._screen(here, chunk)
                eligible += more
                removed += gone
        here.trace["removed"] = removed
        return considered, eligible, retrieved

    def _screen(self, here: Situation, item_ids: list[str]) -> tuple[list[str], list[dict]]:
        screened = screen(
            item_ids,
            here.catalog,
            here.placement,
            here.context,
            here.profile,
            here.impressions,
            here.channel,
            here.now,
        )
        return screened.eligible, screened.removed

    def _rank(self, here: Situation, branch: str, eligible: list[str], retrieved: dict[str, str] | None = None):
        """(policy, [(item, propensity, reasons, score)], next_stage) for the eligible candidates; with
        `retrieved` (a large pool), `eligible` is already the generators' screened shortlist."""
        if not eligible:
            return branch, [], {}
        bundle, catalog, placement, context, trace = here.bundle, here.catalog, here.placement, here.context, here.trace
        scored, proposed = None, {}
        if branch == "model" and bundle is not None:
            try:
                if retrieved is None:
                    ranked, proposed = shortlist(bundle, catalog, context, eligible)
                else:
                    ranked, proposed = eligible, retrieved
                if placement.chooses_channel:
                    scored, ranked = self._choose_channel(here, ranked)
                    if scored is None:
                        return branch, [], {}
                else:
                    scored = score_candidates(
                        bundle, catalog, placement, context, here.profile, here.channel, here.now, ranked
                    )
                eligible = ranked  # the generators' shortlist (the whole pool when it is small)
            except Exception as error:  # a broken model must not break the page: fall back, say so
                log.exception("model %s failed, answering from popularity", bundle.version)
                trace["model_error"] = str(error)
        if scored is None:
            if branch == "model":
                trace["branch_reason"] = "model error" if "model_error" in trace else "no model loaded"
            branch = "fallback"
            if placement.chooses_channel and here.channel is None:
                eligible = self._on_first_channel(here, eligible)
                if not eligible:
                    return branch, [], {}
            scores = self._popularity(eligible, here.state.popularity if here.state else {}, bundle)
            next_stage = {}
        else:
            scores, next_stage = scored.scores, scored.next_stage
            # items with few impressions, like what the visitor browses, get an optimistic score
            scores = with_uncertainty_bonus(
                placement.exploration,
                scores,
                scored.p_response,
                eligible,
                bundle.item_stats,
                catalog.items,
                context,
                here.impressions,
                here.now,
                item_table(bundle, catalog),
            )
        reasons = {i: [proposed[i]] if i in proposed else [] for i in eligible}
        scores = self._boost_interests(scores, eligible, catalog, here.profile, reasons, trace)
        pinned = []
        for resumption in self.rules.resumptions(context) if context else []:
            if resumption.item_id in eligible and resumption.item_id not in [eligible[p] for p in pinned]:
                pinned.append(eligible.index(resumption.item_id))
                reasons[resumption.item_id].insert(0, resumption.reason)
                trace["pinned"].append({"item_id": resumption.item_id, "rule": resumption.rule})
        exploration = placement.exploration if branch == "model" else {}
        picks = select(
            scores,
            here.limit,
            [catalog.items[i].tags for i in eligible],
            exploration,
            self.rng,
            pinned,
            placement.max_per_tag,
        )
        shown = []
        for pick in picks:
            item_id = eligible[pick.index]
            why = reasons[item_id] + [score_reason(placement, here.stage, scored, pick.index, scores)]
            if branch == "fallback":
                why.insert(0, trace["branch_reason"])
            if pick.explored:
                why.append(f"exploration ({describe(exploration)})")
            shown.append((item_id, pick.propensity * here.channel_propensity, why, scores[pick.index]))
        if here.request.get("explain") and scored is not None:
            contributions = self._contributions(bundle, scored.matrix[[p.index for p in picks]], trace)
            trace["items"] = {
                eligible[p.index]: {
                    "p_response": round(float(scored.p_response[p.index]), 6),
                    "value": catalog.items[eligible[p.index]].value,
                    **(
                        {"advance_gain": round(float(scored.advance_gain[p.index]), 6)}
                        if scored.advance_gain is not None
                        else {}
                    ),
                    "top_contributions": c,
                }
                for p, c in zip(picks, contributions)
            }
        return branch, shown, next_stage

    def _permitted_channels(self, here: Situation) -> None:
        """With channel choose: which of the placement's channels may reach this person now. Consent per
        channel (the profile's consent.<channel>), quiet hours in the person's time zone, the contact policy
        (messages this week per channel, read with the context); with none, the decision sends nothing."""
        placement, profile = here.placement, here.profile
        if here.state is None:  # consent and messages sent are unknown: nothing is sent
            here.nothing = "context store unreachable: consent and contact policy unknown, nothing sent"
            here.trace["channel"] = {"permitted": [], "reason": here.nothing}
            return
        zone, note = channel_choice.person_zone(profile)
        quiet = channel_choice.quiet_channels(placement.quiet_hours, here.now, zone)
        consent = channel_choice.channel_consent(profile, placement.channels, self.rules.require_consent)
        sent = channel_choice.contact_counts(here.impressions, placement.channels, here.now)
        here.permitted, here.refused = channel_choice.permitted(
            placement.channels, consent, quiet, sent, self.contact_limit
        )
        if not here.permitted:
            why = "; ".join(f"{c}: {reason}" for c, reason in here.refused.items())
            here.nothing = f"no channel may be used ({why})"
        local = dt.datetime.fromtimestamp(here.now, zone)
        here.trace["channel"] = {
            "local_time": local.isoformat(timespec="minutes"),
            "timezone": str(zone),
            "quiet": sorted(quiet),
            "messages_this_week": sent,
            "permitted": list(here.permitted),
            "refused": dict(here.refused),
            **({"note": note} if note else {}),
            **({"reason": here.nothing} if here.nothing else {}),
        }

    def _on_first_channel(self, here: Situation, items: list[str]) -> list[str]:
        """Without scores (holdout, default, fallback): the first permitted channel any of `items` may be sent
        on, set as the decision's channel, and those of `items` that may be sent there."""
        if not here.placement.chooses_channel:
            return items
        for channel in here.permitted:
            there = [i for i in items if here.catalog.items[i].eligible_for(None, channel)]
            if there:
                here.channel = channel
                here.trace["channel"]["reason"] = (
                    f"first permitted channel with an item ({here.trace['branch_reason']})"
                )
                return there
        return []

    def _choose_channel(self, here: Situation, items: list[str]) -> tuple[Scored | None, list[str]]:
        """With channel choose: score `items` under every permitted channel at once (models.scoring
        .score_channels), choose the channel (models.channel_choice, with the placement's exploration), and
        return the chosen channel's scores and the items that may be sent there."""
        catalog = here.catalog
        by_channel = score_channels(
            here.bundle, catalog, here.placement, here.context, here.profile, here.permitted, here.now, items
        )
        masked = {
            c: np.where([catalog.items[i].eligible_for(None, c) for i in items], scored.scores, -np.inf)
            for c, scored in by_channel.items()
        }
        choice = channel_choice.decide_channel(
            masked,
            here.permitted,
            dict.fromkeys(here.permitted, True),  # already screened: consent, quiet hours, contact policy
            (),
            {},
            self.contact_limit,
            here.placement.exploration,
            self.rng,
        )
        trace = here.trace["channel"]
        trace["reason"] = choice.reason
        for c, scored in by_channel.items():
            best = int(np.argmax(masked[c])) if np.isfinite(masked[c]).any() else None
            trace.setdefault("scores", {})[c] = (
                {
                    "best_item": items[best],
                    "score": round(float(masked[c][best]), 6),
                    "p_response": round(float(scored.p_response[best]), 6),
                }
                if best is not None
                else None
            )
        if choice.channel is None:
            here.nothing = choice.reason
            return None, []
        here.channel, here.channel_propensity = choice.channel, choice.propensity
        keep = np.flatnonzero(np.isfinite(masked[choice.channel]))
        scored = by_channel[choice.channel]
        chosen = Scored(
            masked[choice.channel][keep],
            scored.p_response[keep],
            scored.next_stage,
            scored.advance_gain[keep] if scored.advance_gain is not None else None,
            scored.matrix[keep],
        )
        return chosen, [items[k] for k in keep]

    def _contributions(self, bundle: ModelBundle, matrix: np.ndarray, trace: dict) -> list:
        """Top feature contributions per shown item; if the model cannot give them, None each and the
        trace says why (the explanation is extra: the answer stands)."""
        try:
            return top_contributions(bundle, matrix)
        except Exception as error:
            log.exception("model %s gave no feature contributions", bundle.version)
            trace["contributions_error"] = f"feature contributions unavailable: {error}"
            return [None] * len(matrix)

    def _shadow(self, here: Situation, branch: str, eligible: list[str]) -> dict | None:
        """What the shadow model would have shown here (greedy), logged for evaluation, never served."""
        challenger = self.models.shadow
        if challenger is None or branch != "model" or not eligible:
            return None
        try:
            scored = score_candidates(
                challenger, here.catalog, here.placement, here.context, here.profile, here.channel, here.now, eligible
            )
        except Exception:  # the shadow must never affect the answer
            log.exception("shadow model %s failed", challenger.version)
            return None
        order = np.argsort(-scored.scores, kind="stable")[: here.limit]
        return {"model_version": challenger.version, "items": [eligible[i] for i in order]}

    def _boost_interests(self, scores, eligible, catalog, profile, reasons, trace) -> np.ndarray:
        """Proactive personalization: each profile interest an item is tagged with multiplies its score."""
        interests = set(profile.get("interests") or ())
        boost = self.rules.interest_boost
        if not interests or boost == 1.0:
            return scores
        scores = np.array(scores, dtype=float)
        for index, item_id in enumerate(eligible):
            matched = sorted(interests & set(catalog.items[item_id].tags))
            if matched:
                factor = boost ** len(matched)
                scores[index] = scores[index] * factor if scores[index] >= 0 else scores[index] / factor
                reasons[item_id].append(f"matches interest {', '.join(matched)}")
                trace["boosts"].append({"item_id": item_id, "rule": "interest", "matched": matched, "factor": factor})
        return scores

    def _popularity(self, eligible, live: dict[str, float], bundle) -> np.ndarray:
        """Live touchpoint counts from Redis, else the bundle's training counts, else catalog order."""
        counts = np.asarray([live.get(i, 0.0) for i in eligible], dtype=float)
        if counts.sum():
            return counts / counts.sum()
        if bundle is not None:
            counts = np.asarray([bundle.item_stats.total(i) for i in eligible], dtype=float)
            if counts.sum():
                return counts / counts.sum()
        return np.linspace(1.0, 0.5, num=len(eligible))

    def _defaults(self, here: Situation) -> list[str]:
        moment = dt.datetime.fromtimestamp(here.now, dt.UTC)
        items = here.catalog.items
        return [i for i in here.placement.default_items if i in items and items[i].live_at(moment)]

    def _count_impressions(self, here: Situation, items: list[dict]) -> None:
        """The decision's one write: impression counters for caps and channel preference."""
        today = caps.day_of(here.now)
        channel = self.models.journey.counted_channel(here.channel) if here.channel else None  # bounded fields
        contact = channel if here.placement.chooses_channel else None  # a message: the contact policy counts it
        increments = caps.impression_increments(
            today, [i["item_id"] for i in items], here.placement.id, channel, contact
        )
        try:
            self.store.record_impressions(here.profile_id, increments, caps.stale_fields(here.impressions, today))
        except StoreUnavailable as error:
            log.warning("impressions not counted: %s", error.message)
            here.trace["store_error"] = error.message

    def _log(self, here: Situation, decision: dict, candidates: list[str], shadow: dict | None) -> None:
        """Durably, for training and evaluation: what could have been shown (`candidates`), what was,
        with positions and propensities, and what counts as a response here."""
        record = {
            **decision,
            "candidates": candidates,
            "reward": list(here.placement.reward),
            **({"shadow": shadow} if shadow else {}),
            "ts": here.now,
            "timestamp": dt.datetime.fromtimestamp(here.now, dt.UTC).isoformat().replace("+00:00", "Z"),
            "channel": here.channel if decision["items"] or not here.placement.chooses_channel else None,
            **(
                {"channel_propensity": round(here.channel_propensity, 6), "channels_permitted": here.permitted}
                if here.placement.chooses_channel
                else {}
            ),
            "items": [{**item, "position": position} for position, item in enumerate(decision["items"])],
            "context": _snapshot(here.context),
            # what the model read of the profile, so evaluation can score it as serving did
            "profile": {
                "interests": list(here.profile.get("interests") or ()),
                **self.models.journey.profile_attributes(here.profile),
            },
        }
        self.decision_log.append_or_refuse([record], "decision log", "the decision was not served")


def _placement(catalog: Catalog, name: str) -> Placement:
    placement = catalog.placements.get(name)
    if placement is None:
        raise NotFound(f"unknown placement {name!r}", {"placement": [f"{name!r} is not a placement"]})
    return placement


def _candidates(catalog: Catalog, placement: Placement, requested: list[str] | None) -> list[str]:
    if not requested:
        return placement.candidate_ids(catalog)
    unknown = [i for i in requested if i not in catalog.items]
    if unknown:
        raise ValidationFailed(
            f"unknown candidate items {unknown[:10]}", {"candidates": [f"not in catalog: {unknown[:10]}"]}
        )
    return list(dict.fromkeys(requested))


def _snapshot(context: dict | None) -> dict | None:
    """The context the decision was made on, minus the bulky recent list (its newest few stay)."""
    if context is None:
        return None
    return {**context, "recent": context["recent"][:5]}


def _with_display_fields(items: list[dict], catalog: Catalog, include: list[str] | None) -> None:
    """Add the asked display fields (models.catalog.DISPLAY_FIELDS) of each shown item, from the catalog."""
    for entry in items if include else ():
        item = catalog.items.get(entry["item_id"])
        if item is not None:
            entry.update({field: getattr(item, field) for field in include})
