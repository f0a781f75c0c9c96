"""POST /v1/events with ?key= and a text/plain JSON body: what navigator.sendBeacon sends, held to the same rules."""

from __future__ import annotations

import dataclasses
import json
import uuid

import pytest
from flask.testing import FlaskClient

from service import create_app
from tests.conftest import suite_settings

PUBLIC = "wf_public_beacon-test-key"
BATCH = {
    "events": [{"event_id": "e-beacon-1", "visitor_id": "v-beacon", "type": "click", "item_id": "hero_e2_electric"}]
}


@pytest.fixture(scope="module")
def settings(tmp_path_factory, embedded_redis):
    """The suite's settings on the embedded Redis only, one app for the module: each test its own visitor."""
    root = tmp_path_factory.mktemp("beacon")
    return suite_settings(f"unix://{embedded_redis.socket_file}", root, "t" + uuid.uuid4().hex[:10])


@pytest.fixture(scope="module")
def beacon(settings):
    app = create_app(dataclasses.replace(settings, public_key=PUBLIC))
    return app, FlaskClient(app, app.response_class)


def send(client, body, key=PUBLIC, content_type="text/plain;charset=UTF-8", path="/v1/events"):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(f"{path}?key={key}", data=data, content_type=content_type)


def test_a_text_plain_batch_with_a_public_key_in_the_query_is_taken(beacon):
    app, client = beacon
    answer = send(client, BATCH)
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["accepted"] == 1
    visitor = app.test_client().get("/v1/visitors/v-beacon").get_json()
    assert visitor["counts"]["type"]["click"] == 1


@pytest.mark.parametrize(
    "body, field",
    [
        (b'{"events": [', "json"),
        (b'{"visitor_id": "v", "type": "click", "x": NaN}', "json"),
        (b"\xff\xfe", "json"),
    ],
)
def test_a_text_plain_body_is_parsed_as_strictly_as_json(beacon, body, field):
    answer = send(beacon[1], body)
    assert answer.status_code == 400 and field in answer.get_json()["errors"]


def test_a_public_key_still_sends_only_client_side_events_so(beacon):
    answer = send(beacon[1], {"visitor_id": "v-beacon", "type": "purchase", "value": 30000})
    assert answer.status_code == 403 and {"type", "value"} <= set(answer.get_json()["errors"])


def test_an_admin_key_in_the_query_is_refused(beacon, settings):
    answer = send(beacon[1], BATCH, key=settings.admin_key)
    assert answer.status_code == 401 and "key" in answer.get_json()["errors"]


def test_other_endpoints_read_no_text_plain_body(beacon):
    asked = {"visitor_id": "v-beacon", "placement": "home_hero"}
    answer = send(beacon[1], asked, path="/v1/decisions")
    assert answer.status_code == 422, answer.get_json()  # no JSON body was read: visitor_id, placement missing
    assert send(beacon[1], asked, path="/v1/decisions", content_type="application/json").status_code == 200


def test_other_content_types_are_still_refused_at_events(beacon):
    answer = send(beacon[1], BATCH, content_type="application/x-www-form-urlencoded")
    assert answer.status_code == 400 and "json" in answer.get_json()["errors"]
