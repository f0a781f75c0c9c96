"""Drive a running app the way a site would: touchpoints, decisions with exploration, clicks on what
is shown, so the service's own logs hold decisions with propensities and their outcomes."""

import datetime as dt

import numpy as np

START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
CLICK_RATE = {"hero_e2_electric": 0.6}
BASE_RATE = 0.05


def explore(client, placement="home_hero", epsilon=0.5):
    body = client.get(f"/v1/placements/{placement}").get_json()
    answer = client.put(
        f"/v1/placements/{placement}", json={**body, "exploration": {"epsilon": epsilon}, "holdout_share": 0}
    )
    assert answer.status_code == 200


def serve(client, visitors: int, seed: int, placement="home_hero", prefix="d") -> int:
    """Each visitor: two page views, one decision, maybe a click on the shown item. Returns clicks."""
    rng = np.random.default_rng(seed)
    clicks = 0
    for n in range(visitors):
        visitor = f"{prefix}{n}"
        for step in range(2):
            stamp = (START + dt.timedelta(days=n % 60, hours=step)).isoformat()
            client.post("/v1/events", json={"visitor_id": visitor, "type": "page_view", "timestamp": stamp})
        decision = client.post("/v1/decisions", json={"visitor_id": visitor, "placement": placement}).get_json()
        item = decision["items"][0]["item_id"]
        if rng.random() < CLICK_RATE.get(item, BASE_RATE):
            clicks += 1
            event = {"visitor_id": visitor, "type": "click", "item_id": item, "decision_id": decision["decision_id"]}
            client.post("/v1/events", json=event)
    return clicks


def product_view(visitor: str, item: str, at: float) -> dict:
    """A web product view of `item` by `visitor` at epoch seconds `at`, as a site would send it."""
    stamp = dt.datetime.fromtimestamp(at, dt.UTC).isoformat().replace("+00:00", "Z")
    return {
        "event_id": f"{visitor}-{item}",
        "visitor_id": visitor,
        "type": "product_view",
        "timestamp": stamp,
        "channel": "web",
        "item_id": item,
    }
