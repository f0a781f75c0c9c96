"""Redis restarted empty under real gunicorn: every placement, API edits included, is back; decisions answer 200."""

import uuid

import pytest

from tests.faults.processes import Gunicorn, RedisServer, wait_for

pytestmark = pytest.mark.faults

ITEM = {"id": "offer_roof_box", "kind": "offer", "title": "Roof box", "stages": ["consideration"], "value": 2.5}


def placements(server) -> list[dict]:
    return sorted(server.get("/v1/placements")[1], key=lambda p: p["id"])


def test_placements_and_api_edits_survive_an_empty_restart(tmp_path):
    redis_server = RedisServer(tmp_path / "redis").start()  # no persistence: it comes back empty
    server = Gunicorn(
        {
            "WAYFINDER_REDIS_URL": redis_server.url,
            "WAYFINDER_DATA_DIR": str(tmp_path / "var"),
            "WAYFINDER_REGISTRY": str(tmp_path / "registry"),
            "WAYFINDER_TENANT": "fault" + uuid.uuid4().hex[:8],
        }
    )
    try:
        server.start()
        assert server.request("PUT", "/v1/catalog/items/offer_roof_box", ITEM)[0] == 200
        roof = {"id": "roof", "slots": 1, "candidates": ["offer_roof_box"]}
        assert server.request("PUT", "/v1/placements/roof", roof)[0] == 200
        assert server.request("DELETE", "/v1/placements/app_offers")[0] == 204
        before = placements(server)
        assert "roof" in [p["id"] for p in before] and "app_offers" not in [p["id"] for p in before]

        redis_server.kill()
        redis_server.start()
        # the next catalog edit used to wipe every placement: make one before anything reads
        assert server.request("PUT", "/v1/catalog/items/offer_roof_box", {**ITEM, "value": 3.0})[0] == 200
        for _ in range(6):  # each worker, whichever answers
            assert placements(server) == before
            assert server.get("/v1/catalog/items/offer_roof_box")[1]["value"] == 3.0
        for placement in before:
            status, body = server.request("POST", "/v1/decisions", {"visitor_id": "v1", "placement": placement["id"]})
            assert status == 200, body

        redis_server.kill()
        redis_server.start()
        wait_for(
            lambda: all(
                server.request("POST", "/v1/decisions", {"visitor_id": "v2", "placement": p["id"]})[0] == 200
                for p in before
            ),
            what="decisions answer 200 for every placement after the second empty restart",
        )
        assert placements(server) == before
    finally:
        server.stop()
        redis_server.kill()
