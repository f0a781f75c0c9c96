"""Deciding what a visitor sees in a placement: candidates, eligibility, scoring, fallback, logging."""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid

import numpy as np

from models.catalog import Catalog, Placement
from models.errors import NotFound, StoreUnavailable, ValidationFailed
from service.daily_log import DailyLog
from service.model_holder import ModelHolder
from service.store import ContextStore

log = logging.getLogger(__name__)


class DecisionEngine:
    def __init__(self, store: ContextStore, catalog: Catalog, models: ModelHolder, decision_log: DailyLog):
        self.store = store
        self.catalog = catalog
        self.models = models
        self.decision_log = decision_log

    def decide(self, request: dict) -> dict:
        """Rank the placement's eligible candidates for this visitor now, log the decision, return it."""
        placement = self._placement(request["placement"])
        candidates = self._candidates(placement, request.get("candidates"))
        channel = (request.get("context") or {}).get("channel")
        now = time.time()
        bundle = self.models.get()
        reasons_common: list[str] = []
        try:
            wanted = [] if bundle else candidates
            context, profile, counts = self.store.read(request["visitor_id"], wanted)
            popularity = dict(zip(wanted, counts))
            store_ok = True
        except StoreUnavailable as error:
            log.warning("deciding without context: %s", error.message)
            context, profile, popularity, store_ok = None, {}, {}, False
            reasons_common.append("context store unreachable")
        stage = context["stage"] if context else None
        eligible = self._eligible(candidates, context, channel)
        limit = request.get("limit") or placement.slots
        next_stage = {}
        if bundle is not None and store_ok and eligible:
            policy = "model"
            scores, next_stage = self._score_with_model(bundle, context, profile, channel, now, eligible, placement)
        else:
            policy = "fallback"
            if bundle is None:
                reasons_common.append("no model loaded: popularity")
            scores = self._popularity(eligible, popularity, bundle, stage)
        order = np.argsort(-scores, kind="stable")[:limit]
        items = [
            {
                "item_id": eligible[i],
                "score": round(float(scores[i]), 6),
                "propensity": 1.0,
                "reasons": [*reasons_common, f"eligible at stage {stage}" if stage else "cold start: no stage yet"],
            }
            for i in order
        ]
        decision = {
            "decision_id": uuid.uuid4().hex,
            "visitor_id": request["visitor_id"],
            "placement": placement.id,
            "stage": stage,
            "next_stage": next_stage,
            "items": items,
            "policy": policy,
            "model_version": bundle.version if bundle and policy == "model" else None,
        }
        self._log(decision, context, channel, now)
        return decision

    def _placement(self, name: str) -> Placement:
        placement = self.catalog.placements.get(name)
        if placement is None:
            raise NotFound(f"unknown placement {name!r}", {"placement": [f"{name!r} is not a placement"]})
        return placement

    def _candidates(self, placement: Placement, requested: list[str] | None) -> list[str]:
        if not requested:
            return placement.candidate_ids(self.catalog)
        unknown = [i for i in requested if i not in self.catalog.items]
        if unknown:
            raise ValidationFailed(
                f"unknown candidate items {unknown[:10]}", {"candidates": [f"not in catalog: {unknown[:10]}"]}
            )
        return list(dict.fromkeys(requested))

    def _eligible(self, candidates: list[str], context: dict | None, channel: str | None) -> list[str]:
        stage = context["stage"] if context else None
        converted = set(context["converted_items"]) if context else set()
        return [
            item_id
            for item_id in candidates
            if self.catalog.items[item_id].eligible_for(stage, channel) and item_id not in converted
        ]

    def _score_with_model(self, bundle, context, profile, channel, now, eligible, placement):
        spec = bundle.spec
        row = spec.context_row(context, now, channel)
        matrix = spec.content_matrix(
            context,
            now,
            channel,
            eligible,
            bundle.item_stats,
            self.catalog.items,
            interests=profile.get("interests", ()),
            context_row=row,
        )
        p_response = bundle.content.predict(matrix)
        if placement.objective == "value":
            values = np.array([self.catalog.items[i].value for i in eligible])
            scores = p_response * values
        else:
            scores = p_response
        probabilities = bundle.next_stage.predict_proba(np.asarray([row]))[0]
        next_stage = {name: round(float(p), 4) for name, p in zip(bundle.classes, probabilities)}
        return scores, next_stage

    def _popularity(self, eligible, live_popularity, bundle, stage) -> np.ndarray:
        """Live touchpoint counts from Redis, else the bundle's training counts, else catalog order."""
        if live_popularity:
            counts = np.asarray([live_popularity.get(i, 0.0) for i in eligible], dtype=float)
        elif bundle is not None:
            counts = np.asarray([bundle.item_stats.total(i) for i in eligible], dtype=float)
        else:
            counts = np.zeros(len(eligible))
        return counts / counts.sum() if counts.sum() else counts

    def _log(self, decision: dict, context: dict | None, channel: str | None, now: float) -> None:
        record = {
            **decision,
            "ts": now,
            "timestamp": dt.datetime.fromtimestamp(now, dt.UTC).isoformat().replace("+00:00", "Z"),
            "channel": channel,
            "items": [{**item, "position": position} for position, item in enumerate(decision["items"])],
            "context": _snapshot(context),
        }
        self.decision_log.append([record])


def _snapshot(context: dict | None) -> dict | None:
    """The context the decision was made on, minus the bulky recent list (its newest few stay)."""
    if context is None:
        return None
    return {**context, "recent": context["recent"][:5]}
