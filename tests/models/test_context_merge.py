"""merge_contexts: folding a device's anonymous context into its person's equals replaying both in time order."""

import random

from models.context import apply_event, merge_contexts, new_context, to_json

TYPES = ["page_view", "product_view", "configure_product", "add_to_cart", "purchase", "click"]
CHANNELS = [None, "web", "app", "email"]


def history(rng, visitor, start, count, user=None):
    return [
        {
            "event_id": f"{visitor}-{n}",
            "visitor_id": visitor,
            "user_id": user,
            "type": rng.choice(TYPES),
            "ts": start + n * 10.0 + rng.random(),
            "channel": rng.choice(CHANNELS),
            "item_id": rng.choice([None, "hero_x5_m_sport", "hero_x3_family_suv"]),
            "value": rng.choice([None, 100.0]),
        }
        for n in range(count)
    ]


def replay(key, events, journey, cap):
    context = new_context(key)
    for event in sorted(events, key=lambda e: e["ts"]):
        apply_event(context, event, journey, cap)
    return context


def test_a_merge_equals_the_replay_when_one_history_ends_before_the_other_begins(journey):
    rng = random.Random(14)
    for case in range(200):
        cap = rng.choice([3, 50])
        device = history(rng, "laptop", 1_000.0, rng.randint(0, 12))
        person = history(rng, "phone", 1_000.0 + 200.0 * rng.choice([-1, 1]), rng.randint(0, 12), user="u")
        expected = replay("u", device + person, journey, cap)
        merged = merge_contexts(replay("u", person, journey, cap), replay("laptop", device, journey, cap), journey, cap)
        assert to_json(merged) == to_json(expected), case


def test_a_merge_changes_neither_context_and_keeps_the_persons_ids(journey):
    rng = random.Random(1)
    person = replay("u", history(rng, "phone", 5_000.0, 3, user="u"), journey, 50)
    device = replay("laptop", history(rng, "laptop", 1_000.0, 3), journey, 50)
    before = (to_json(person), to_json(device))
    merged = merge_contexts(person, device, journey)
    assert (to_json(person), to_json(device)) == before
    assert merged["visitor_id"] == "u" and merged["user_id"] == "u" and merged["n_events"] == 6
