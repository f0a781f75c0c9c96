"""Drive a running app the way a site would: touchpoints, decisions with exploration, clicks on what
is shown, so the service's own logs hold decisions with propensities and their outcomes."""

import dataclasses
import datetime as dt
import shutil
import uuid
from pathlib import Path

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


def served_once(root: Path, registry: Path, redis_url: str, visitors: int, seed: int = 9):
    """Settings under `root` whose champion (a copy of `registry`) has served `visitors` with exploration:
    made once per module by the suites that only read the logs it leaves (serving is their slow part)."""
    from service import create_app
    from tests.conftest import suite_settings

    settings = suite_settings(redis_url, root, "t" + uuid.uuid4().hex[:10])
    shutil.copytree(registry, settings.registry)
    client = create_app(settings).test_client()
    explore(client)
    serve(client, visitors=visitors, seed=seed)
    return settings


def copy_served(source, settings, root: Path):
    """One test's own copy of `source`'s logs and registry under `root`, in `settings`' tenant, with Redis
    rebuilt from that journal before the test starts (as the service would on its first read), so no
    test's first decisions meet a rebuild under way."""
    from service import create_app

    copy = dataclasses.replace(settings, data_dir=root / "served-var", registry=root / "served-reg")
    shutil.copytree(source.data_dir, copy.data_dir, ignore=shutil.ignore_patterns("metrics"))
    shutil.copytree(source.registry, copy.registry)
    catalog = copy.data_dir / "catalog"
    (catalog / source.tenant).rename(catalog / copy.tenant)  # the placements' edits (exploration)
    recovery = create_app(copy).extensions["wayfinder"].recovery
    recovery.notice()
    assert recovery.wait(timeout=60) and recovery.last_report is not None
    return copy
