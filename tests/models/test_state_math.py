"""The pure arithmetic of the bounded Redis state: dedup windows and decayed popularity."""

import pytest

from models import dedup, popularity

DAY = 86_400.0
WEEK = 7 * DAY


def test_an_id_is_remembered_for_the_window_counted_in_whole_accept_days():
    accepted = 100 * DAY + 3600
    buckets = {str(dedup.day_of(accepted)).encode(): dedup.pack(["e1", "e2"])}
    assert dedup.remembered(buckets, accepted + WEEK, WEEK) == {dedup.digest("e1"), dedup.digest("e2")}
    assert dedup.remembered(buckets, accepted + WEEK + DAY, WEEK) == set()
    assert dedup.ttl_s(WEEK) == 8 * 86_400


def test_digests_are_eight_bytes_and_stable():
    assert len(dedup.digest("e1")) == dedup.DIGEST_BYTES
    assert dedup.digest("e1") == dedup.digest("e1") != dedup.digest("e2")
    assert dedup.pack(["e1", "e2"]) == dedup.digest("e1") + dedup.digest("e2")


def test_a_touchpoint_weighs_twice_as_much_one_half_life_later():
    t = popularity.epoch_of(1_780_000_000, WEEK) * popularity.epoch_length_s(WEEK) + DAY
    assert popularity.weight(t + WEEK, WEEK) == pytest.approx(2 * popularity.weight(t, WEEK))


def test_weights_stay_finite_and_the_previous_epoch_reads_in_the_current_scale():
    length = popularity.epoch_length_s(WEEK)
    start = 30 * length
    assert popularity.weight(start + length - 1, WEEK) < 2.0**64
    before, after = popularity.weight(start - DAY, WEEK), popularity.weight(start + DAY, WEEK)
    assert popularity.combine(after, None) / popularity.combine(None, before) == pytest.approx(2 ** (2 / 7))


def test_weights_count_catalog_items_only_and_skip_epochs_nobody_reads():
    now = 40 * popularity.epoch_length_s(WEEK) + DAY
    events = [
        {"item_id": "x5", "ts": now - DAY},
        {"item_id": "x5", "ts": now - 2 * DAY},  # the previous epoch
        {"item_id": "junk", "ts": now - DAY},
        {"item_id": None, "ts": now},
        {"item_id": "x5", "ts": now - 3 * popularity.epoch_length_s(WEEK)},
        {"item_id": "x5", "ts": now + DAY},  # in the future: counted as now
    ]
    weights = popularity.weights(events, {"x5"}, now, WEEK)
    epoch = popularity.epoch_of(now, WEEK)
    assert set(weights) == {(epoch, "x5"), (epoch - 1, "x5")}
    assert weights[epoch, "x5"] == pytest.approx(popularity.weight(now - DAY, WEEK) + popularity.weight(now, WEEK))
