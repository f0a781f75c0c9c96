"""Deciding what a visitor sees in a placement (DESIGN.md section 5), with a trace of why."""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid

import numpy as np

from models.catalog import Catalog, Placement
from models.errors import NotFound, StoreUnavailable, ValidationFailed
from models.policy import holdout_bucket, select
from models.rules import Rules
from models.scoring import score_candidates, top_contributions
from service import caps
from service.catalog_store import CatalogStore
from service.daily_log import DailyLog
from service.eligibility import screen
from service.model_holder import ModelHolder
from service.store import ContextStore, VisitorState

log = logging.getLogger(__name__)


class DecisionEngine:
    def __init__(
        self,
        store: ContextStore,
        catalogs: CatalogStore,
        models: ModelHolder,
        rules: Rules,
        decision_log: DailyLog,
        seed: int | None = None,
    ):
        self.store = store
        self.catalogs = catalogs
        self.models = models
        self.rules = rules
        self.decision_log = decision_log
        self.rng = np.random.default_rng(seed)

    def decide(self, request: dict) -> dict:
        """Rank the placement's eligible candidates for this visitor now, count and log what is shown."""
        now = time.time()
        channel = (request.get("context") or {}).get("channel")
        profile_id = request.get("user_id") or request["visitor_id"]
        catalog = self.catalogs.current()
        if request["placement"] not in catalog.placements:
            catalog = self.catalogs.refresh()  # made by another worker since our last read?
        placement = self._placement(catalog, request["placement"])
        bundle = self.models.get()
        trace: dict = {"removed": [], "boosts": [], "pinned": []}
        state = self._read(profile_id, [] if bundle else placement.candidate_ids(catalog), trace)
        if state is not None:
            catalog = self.catalogs.sync(state.catalog_version)
            placement = self._placement(catalog, request["placement"])
        candidates = self._candidates(catalog, placement, request.get("candidates"))
        trace["candidates"] = candidates
        limit = request.get("limit") or placement.slots
        context = state.context if state else None
        profile = state.profile if state else {}

        branch = self._branch(request["visitor_id"], placement, state, profile, now, trace)
        next_stage: dict = {}
        eligible: list[str] = []
        if branch in ("holdout", "default"):
            eligible = self._defaults(catalog, placement, now)
            shown = [(i, 1.0, [trace["branch_reason"]], None) for i in eligible][:limit]
        elif branch == "capped":
            shown = []
        else:
            screened = screen(candidates, catalog, placement, context, profile, _counts(state), channel, now)
            trace["removed"] = screened.removed
            eligible = screened.eligible
            branch, shown, next_stage = self._rank(
                branch,
                bundle,
                catalog,
                placement,
                context,
                profile,
                state.popularity if state else {},
                channel,
                now,
                screened.eligible,
                limit,
                trace,
                explain=bool(request.get("explain")),
            )
        decision = {
            "decision_id": uuid.uuid4().hex,
            "visitor_id": request["visitor_id"],
            "user_id": request.get("user_id"),
            "placement": placement.id,
            "stage": context["stage"] if context else None,
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
        shadow = self._shadow(branch, catalog, placement, context, profile, channel, now, eligible, limit)
        if state is not None and shown:
            self._count_impressions(profile_id, placement, decision["items"], channel, now, state, trace)
        self._log(decision, context, channel, now, eligible, placement.reward, shadow)
        if request.get("explain"):
            trace["caps"] = _caps_state(catalog, placement, candidates, _counts(state), now)
            decision["explain"] = trace
        return decision

    # -- steps ---------------------------------------------------------------------------------

    def _read(self, profile_id: str, popularity_items: list[str], trace: dict) -> VisitorState | None:
        try:
            return self.store.read(profile_id, popularity_items, self.catalogs.version_key)
        except StoreUnavailable as error:
            log.warning("deciding without context: %s", error.message)
            trace["store_error"] = error.message
            return None

    def _placement(self, catalog: Catalog, name: str) -> Placement:
        placement = catalog.placements.get(name)
        if placement is None:
            raise NotFound(f"unknown placement {name!r}", {"placement": [f"{name!r} is not a placement"]})
        return placement

    def _candidates(self, catalog: Catalog, placement: Placement, requested: list[str] | None) -> list[str]:
        if not requested:
            return placement.candidate_ids(catalog)
        unknown = [i for i in requested if i not in catalog.items]
        if unknown:
            raise ValidationFailed(
                f"unknown candidate items {unknown[:10]}", {"candidates": [f"not in catalog: {unknown[:10]}"]}
            )
        return list(dict.fromkeys(requested))

    def _branch(self, visitor_id, placement, state, profile, now, trace) -> str:
        """Which policy answers: fallback (no context), holdout, default (no consent), capped, or model."""
        if state is None:
            trace["branch_reason"] = "context store unreachable"
            return "fallback"
        bucket = holdout_bucket(visitor_id, placement.id)
        if bucket < placement.holdout_share:
            trace["branch_reason"] = f"holdout group (bucket {bucket:.3f} < share {placement.holdout_share})"
            return "holdout"
        if not self.rules.consent_given(profile):
            trace["branch_reason"] = "no consent for personalization: default experience"
            return "default"
        reached = caps.cap_reached(placement.caps, state.impressions, "p", placement.id, caps.day_of(now))
        if reached:
            trace["branch_reason"] = f"placement cap {reached}"
            return "capped"
        trace["branch_reason"] = "personalized"
        return "model"

    def _rank(
        self,
        branch,
        bundle,
        catalog,
        placement,
        context,
        profile,
        popularity,
        channel,
        now,
        eligible,
        limit,
        trace,
        explain,
    ):
        """(policy, [(item, propensity, reasons, score)], next_stage) for the eligible candidates."""
        if not eligible:
            return branch, [], {}
        scored = None
        if branch == "model" and bundle is not None:
            try:
                scored = score_candidates(bundle, catalog, placement, context, profile, channel, now, eligible)
            except Exception as error:  # a broken model must not break the page: fall back, say so
                log.exception("model %s failed, answering from popularity", bundle.version)
                trace["model_error"] = str(error)
        if scored is None:
            if branch == "model":
                trace["branch_reason"] = "model error" if "model_error" in trace else "no model loaded"
            branch = "fallback"
            scores = self._popularity(eligible, popularity, bundle)
            next_stage = {}
        else:
            scores, next_stage = scored.scores, scored.next_stage
        reasons = {i: [] for i in eligible}
        scores = self._boost_interests(scores, eligible, catalog, profile, reasons, trace)
        pinned = []
        for resumption in self.rules.resumptions(context) if context else []:
            if resumption.item_id in eligible and resumption.item_id not in [eligible[p] for p in pinned]:
                pinned.append(eligible.index(resumption.item_id))
                reasons[resumption.item_id].insert(0, resumption.reason)
                trace["pinned"].append({"item_id": resumption.item_id, "rule": resumption.rule})
        exploration = placement.exploration if branch == "model" else {}
        picks = select(
            scores,
            limit,
            [catalog.items[i].tags for i in eligible],
            exploration,
            self.rng,
            pinned,
            placement.max_per_tag,
        )
        stage = context["stage"] if context else None
        shown = []
        for pick in picks:
            item_id = eligible[pick.index]
            why = reasons[item_id] + [_score_reason(branch, placement, stage, scored, pick.index, scores)]
            if branch == "fallback":
                why.insert(0, trace["branch_reason"])
            if pick.explored:
                why.append(f"exploration ({_describe(exploration)})")
            shown.append((item_id, pick.propensity, why, scores[pick.index]))
        if explain and scored is not None:
            contributions = top_contributions(bundle, scored.matrix[[p.index for p in picks]])
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

    def _shadow(self, branch, catalog, placement, context, profile, channel, now, eligible, limit) -> dict | None:
        """What the shadow model would have shown here (greedy), logged for evaluation, never served."""
        challenger = self.models.shadow
        if challenger is None or branch != "model" or not eligible:
            return None
        try:
            scored = score_candidates(challenger, catalog, placement, context, profile, channel, now, eligible)
        except Exception:  # the shadow must never affect the answer
            log.exception("shadow model %s failed", challenger.version)
            return None
        order = np.argsort(-scored.scores, kind="stable")[:limit]
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

    def _defaults(self, catalog: Catalog, placement: Placement, now: float) -> list[str]:
        moment = dt.datetime.fromtimestamp(now, dt.UTC)
        return [i for i in placement.default_items if i in catalog.items and catalog.items[i].live_at(moment)]

    def _count_impressions(self, profile_id, placement, items, channel, now, state, trace) -> None:
        today = caps.day_of(now)
        increments = {caps.item_field(today, i["item_id"]): 1 for i in items}
        increments[caps.placement_field(today, placement.id)] = 1
        if channel:
            increments[caps.channel_field(channel)] = 1
        try:
            self.store.record_impressions(profile_id, increments, caps.stale_fields(state.impressions, today))
        except StoreUnavailable as error:
            log.warning("impressions not counted: %s", error.message)
            trace["store_error"] = error.message

    def _log(self, decision, context, channel, now, candidates: list[str], reward: tuple[str, ...], shadow) -> None:
        """Durably, for training and evaluation: what could have been shown (`candidates`), what was,
        with positions and propensities, and what counts as a response here."""
        record = {
            **decision,
            "candidates": candidates,
            "reward": list(reward),
            **({"shadow": shadow} if shadow else {}),
            "ts": now,
            "timestamp": dt.datetime.fromtimestamp(now, dt.UTC).isoformat().replace("+00:00", "Z"),
            "channel": channel,
            "items": [{**item, "position": position} for position, item in enumerate(decision["items"])],
            "context": _snapshot(context),
        }
        self.decision_log.append([record])


def _counts(state: VisitorState | None) -> dict[str, int]:
    return state.impressions if state else {}


def _score_reason(branch, placement, stage, scored, index, scores) -> str:
    where = f"stage {stage}" if stage else "cold start"
    if scored is None:
        return f"{where}: popularity"
    p = float(scored.p_response[index])
    if placement.objective == "progress":
        return f"{where}: P(response) {p:.3f} x advance gain {float(scored.advance_gain[index]):+.3f}"
    if placement.objective == "value":
        return f"{where}: P(response) {p:.3f} x value = {float(scores[index]):.3f}"
    return f"{where}: P(response) {p:.3f}"


def _describe(exploration: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in exploration.items())


def _caps_state(catalog, placement, candidates, counts, now) -> dict:
    today = caps.day_of(now)
    out = {"placement": {"today": caps.impressions(counts, "p", placement.id, today, 1), "caps": placement.caps}}
    for item_id in candidates:
        item = catalog.items[item_id]
        if item.caps:
            out[item_id] = {
                "today": caps.impressions(counts, "i", item_id, today, 1),
                "week": caps.impressions(counts, "i", item_id, today, 7),
                "caps": item.caps,
            }
    return out


def _snapshot(context: dict | None) -> dict | None:
    """The context the decision was made on, minus the bulky recent list (its newest few stay)."""
    if context is None:
        return None
    return {**context, "recent": context["recent"][:5]}
