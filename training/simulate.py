"""A journey simulator for the demo brand (Northwind Motors), with known behaviour behind the data.

Each visitor has a persona (family, performance or electric buyer; some are pet owners)
and walks the journey as a Markov process whose odds depend on what they did: a visitor
who configured a car is likelier to book a test drive; one who test-drove is likelier to
buy. They skip stages, go back, switch channel and lapse, as real customers do. The
output is canonical events (JSON Lines), what `python -m training train` reads.

With a cross-device share, that share of the visitors who configure a car and then reach intent
switch devices there: they browse and configure anonymously on the web (device `sim-N`), log in on
the web to save the configuration (a link in the identities log, journal/identity.py), and go on in
the app, logged in (device `sim-N-app`, events that carry `user_id` `person-N`), where most of them
buy. Counted per device, that looks like configuring leads nowhere; counted per person it does not.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from journal.identity import IDENTITIES_LOG, LINK
from journal.writer import DailyLog

START = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
PERSONAS = {
    "family": {"model": "hero_x3_family_suv", "content": ["story_family_safety"], "offer": "offer_financing_0apr"},
    "performance": {"model": "hero_x5_m_sport", "content": ["review_x5_press"], "offer": "offer_tradein_bonus"},
    "electric": {"model": "hero_e2_electric", "content": ["guide_ev_charging"], "offer": "offer_ev_grant"},
}
HEROES = [p["model"] for p in PERSONAS.values()]
HOUR, DAY = 3600.0, 86400.0
INTENT_TYPES = ("book_test_drive", "apply_financing", "dealer_visit")
LOGIN_AFTER_S = 60.0
"""The web login that saves the configuration comes this long after the last web touchpoint."""


def simulate(visitors: int = 3000, seed: int = 11) -> list[dict]:
    """Events of `visitors` simulated journeys, in time order."""
    rng = np.random.default_rng(seed)
    events: list[dict] = []
    for number in range(visitors):
        events.extend(_journey(f"sim-{number:05d}", rng))
    events.sort(key=lambda e: (e["timestamp"], e["visitor_id"]))
    return events


def _journey(visitor: str, rng: np.random.Generator) -> list[dict]:
    persona = str(rng.choice(list(PERSONAS), p=[0.45, 0.3, 0.25]))
    likes = PERSONAS[persona]
    pets = rng.random() < 0.3
    home = str(rng.choice(["web", "app"], p=[0.7, 0.3]))
    t = START.timestamp() + rng.uniform(0, 150 * DAY)
    out: list[dict] = []
    flags = {"configured": False, "test_drive": False}

    def emit(kind: str, item: str | None = None, channel: str | None = None, value=None, **props):
        nonlocal t
        t += rng.exponential(6 * HOUR)
        event = {
            "event_id": f"{visitor}-{len(out)}",
            "visitor_id": visitor,
            "type": kind,
            "timestamp": dt.datetime.fromtimestamp(t, dt.UTC).isoformat().replace("+00:00", "Z"),
            "channel": channel or (home if rng.random() < 0.8 else str(rng.choice(["web", "app", "email"]))),
        }
        if item:
            event["item_id"] = item
        if value is not None:
            event["value"] = value
        if props:
            event["properties"] = props
        out.append(event)
        if item and rng.random() < 0.35:
            out.append({**event, "event_id": f"{visitor}-{len(out)}", "type": "click"})

    def hero() -> str:
        return likes["model"] if rng.random() < 0.7 else str(rng.choice(HEROES))

    stage = "awareness"
    for _ in range(12):
        if stage == "awareness":
            emit(
                str(rng.choice(["ad_click", "page_view", "newsletter_open"], p=[0.3, 0.5, 0.2])),
                hero(),
                channel="ads" if rng.random() < 0.3 else None,
            )
            stage = _next(rng, {"consideration": 0.55, "awareness": 0.15})
        elif stage == "consideration":
            action = rng.choice(
                ["product_view", "configure_product", "compare_models", "content"], p=[0.4, 0.3, 0.1, 0.2]
            )
            if action == "configure_product":
                flags["configured"] = True
                emit("configure_product", likes["model"], configured_model=likes["model"].split("_")[1])
            elif action == "content":
                emit("brochure_download", str(rng.choice(likes["content"])))
            else:
                emit(str(action), hero())
            if pets and rng.random() < 0.5:
                emit("product_view", "accessory_pet_pack")
            stage = _next(
                rng, {"intent": 0.55 if flags["configured"] else 0.3, "consideration": 0.25, "awareness": 0.05}
            )
        elif stage == "intent":
            action = rng.choice(["book_test_drive", "apply_financing", "dealer_visit"], p=[0.5, 0.3, 0.2])
            if action == "book_test_drive":
                flags["test_drive"] = True
                emit("book_test_drive", "action_book_test_drive")
            elif action == "apply_financing":
                emit("apply_financing", likes["offer"])
            else:
                emit("dealer_visit", "action_visit_dealer", channel="store")
            stage = _next(
                rng, {"conversion": 0.5 if flags["test_drive"] else 0.25, "intent": 0.2, "consideration": 0.15}
            )
        elif stage == "conversion":
            emit(
                "purchase",
                likes["model"],
                channel="store" if rng.random() < 0.6 else None,
                value=float(round(rng.uniform(28_000, 65_000), -2)),
            )
            t += rng.uniform(20, 90) * DAY
            stage = _next(rng, {"loyalty": 0.6})
        elif stage == "loyalty":
            emit(
                str(rng.choice(["service_booking", "referral", "repeat_purchase"], p=[0.7, 0.25, 0.05])),
                str(rng.choice(["offer_service_plan", "action_refer_friend", "offer_winter_tyres"])),
                channel="email",
            )
            if pets and rng.random() < 0.4:
                emit("product_view", "accessory_pet_pack", channel="app")
            stage = _next(rng, {"loyalty": 0.4})
        else:
            break
        t += rng.exponential(2 * DAY)
    return out


def _next(rng: np.random.Generator, odds: dict[str, float]) -> str:
    """The next stage from `odds`; the remaining probability is leaving (exit)."""
    names = [*odds, "exit"]
    probs = [*odds.values(), max(0.0, 1.0 - sum(odds.values()))]
    return str(rng.choice(names, p=np.asarray(probs) / sum(probs)))


def split_devices(events: list[dict], share: float, seed: int = 11) -> tuple[list[dict], list[dict]]:
    """Move `share` of the journeys that configure and then reach intent onto a second device from
    that intent on (see the module docstring); returns the events, in time order, and the identities
    log's records of the web logins. The journeys themselves are unchanged: only who holds them."""
    rng = np.random.default_rng([seed, 14])
    journeys: dict[str, list[dict]] = defaultdict(list)
    for event in events:
        journeys[event["visitor_id"]].append(event)
    links = []
    for visitor, journey in journeys.items():
        draw = rng.random()
        switch = _switch_at(journey)
        if switch is None or draw >= share:
            continue
        person, app = visitor.replace("sim-", "person-", 1), f"{visitor}-app"
        for event in journey[:switch]:
            event["channel"] = "web" if event["channel"] == "app" else event["channel"]
        for event in journey[switch:]:
            event.update(visitor_id=app, user_id=person, event_id=f"{event['event_id']}-app")
            event["channel"] = "app" if event["channel"] == "web" else event["channel"]
        links.append(_link(visitor, person, _ts(journey[switch - 1]) + LOGIN_AFTER_S))
    events = sorted(events, key=lambda e: (e["timestamp"], e["visitor_id"]))
    return events, sorted(links, key=lambda link: link["ts"])


def _switch_at(journey: list[dict]) -> int | None:
    """The position of the first intent touchpoint after a configuration, if any."""
    configured = False
    for position, event in enumerate(journey):
        configured = configured or event["type"] == "configure_product"
        if configured and event["type"] in INTENT_TYPES:
            return position
    return None


def _link(visitor: str, person: str, ts: float) -> dict:
    """An identities log record (journal/identity.py): the device `visitor` logs in as `person` at `ts`."""
    at = dt.datetime.fromtimestamp(ts, dt.UTC).isoformat().replace("+00:00", "Z")
    link_id = hashlib.sha256(f"{visitor}|{person}".encode()).hexdigest()[:32]
    return {"link_id": link_id, "ts": ts, "at": at, "action": LINK, "visitor_id": visitor, "user_id": person}


def _ts(event: dict) -> float:
    return dt.datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00")).timestamp()


def write_events(path: Path | str, visitors: int = 3000, seed: int = 11, cross_device: float = 0.0) -> int:
    """Simulate and write JSON Lines; returns the number of events. With `cross_device`, that share of
    the configuring journeys switches devices (split_devices) and their web logins are written to the
    identities log beside the file, `<its folder>/identities/`, where `python -m training analyze` looks."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    events = simulate(visitors, seed)
    if cross_device > 0:
        events, links = split_devices(events, cross_device, seed)
        DailyLog(path.parent / IDENTITIES_LOG, fsync=False).append(links)
    with open(path, "w") as handle:
        for event in events:
            handle.write(json.dumps(event) + "\n")
    return len(events)
