"""GET /v1/analytics/journeys counts the person: a device's login in the identities log and the app's
events that carry user_id stitch a person's devices into one journey (issue 14)."""

from journal.identity import IDENTITIES_LOG
from journal.writer import DailyLog
from service import create_app
from training.simulate import simulate, split_devices

URL = "/v1/analytics/journeys"
WINDOW = {"since": "2026-02-01T00:00:00Z", "until": "2027-01-01T00:00:00Z"}


def test_the_api_stitches_a_persons_devices_into_one_journey(settings):
    events, logins = split_devices(simulate(visitors=60, seed=5), share=1.0, seed=5)
    client = create_app(settings).test_client()
    answer = client.post("/v1/events", json={"events": events})
    assert answer.get_json()["accepted"] == len(events)

    before = client.get(URL, query_string=WINDOW).get_json()["summary"]
    # only the app devices are known (their events carry user_id): nothing ties them to the web yet
    assert (before["persons"], before["stitched_journeys"]) == (before["devices"], 0)

    DailyLog(settings.data_dir / IDENTITIES_LOG, fsync=False).append(logins)  # what POST /v1/identify writes
    after = client.get(URL, query_string=WINDOW).get_json()["summary"]
    assert after["journeys_by"] == "person"
    assert after["stitched_journeys"] == len(logins) > 0
    assert after["visitors"] == after["persons"] == 60 == before["devices"] - len(logins)
    assert after["events"] == before["events"] == len(events)
