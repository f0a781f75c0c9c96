"""The Python client (clients/python) against a real gunicorn: typed calls, 4xx not retried, retries across
a restart, and a retried event counted once."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import TEST_ADMIN_KEY
from tests.faults.processes import Gunicorn

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "clients" / "python"))
from wayfinder_client import Wayfinder, WayfinderError  # noqa: E402  (the package, as installed from its folder)

pytestmark = pytest.mark.faults


@pytest.fixture
def server(tmp_path):
    environment = {"WAYFINDER_DATA_DIR": str(tmp_path / "var"), "WAYFINDER_REGISTRY": str(tmp_path / "registry")}
    running = Gunicorn(environment, workers=1).start(workers=1)
    yield running
    running.stop()


def test_typed_calls_and_a_4xx_raised_at_once(server):
    wf = Wayfinder(server.base, TEST_ADMIN_KEY, retries=3, backoff_s=1.0)
    assert wf.send_event("v-42", "configure_product", channel="web", item_id="hero_x5_m_sport")["accepted"] == 1
    decision = wf.decide("v-42", "app_offers", channel="app", include=["title"])
    assert decision["items"] and all("title" in item for item in decision["items"])
    assert wf.visitor("v-42")["counts"]["type"] == {"configure_product": 1}
    wf.put_item({"id": "offer_client", "kind": "offer", "title": "From the client"})
    assert "offer_client" in [item["id"] for item in wf.items()]
    started = time.monotonic()
    with pytest.raises(WayfinderError) as refused:
        wf.decide("v-42", "no_such_placement")
    assert refused.value.status == 404 and time.monotonic() - started < 1.0  # no backoff: never retried
    with pytest.raises(WayfinderError) as unauthorized:
        Wayfinder(server.base, "wf_admin_wrong").items()
    assert unauthorized.value.status == 401


def test_a_call_made_while_the_server_restarts_is_retried_and_its_event_counted_once(server):
    wf = Wayfinder(server.base, TEST_ADMIN_KEY, timeout_s=2.0, retries=8, backoff_s=0.25)
    server.stop()
    answers: list[dict] = []
    sender = threading.Thread(target=lambda: answers.append(wf.send_event("v-restart", "page_view")))
    sender.start()
    time.sleep(0.5)  # the first tries find nobody listening
    server.start(workers=1)
    sender.join(timeout=60)
    assert answers and answers[0]["accepted"] + answers[0]["duplicates"] == 1
    assert wf.visitor("v-restart")["counts"]["type"] == {"page_view": 1}
