"""A gunicorn that stops cleanly (SIGTERM) has written every decision it answered, though its background
decision writer (journal/group_commit.py) had flushed none of them: an hour's interval, so only the
shutdown writes them. With the project's gunicorn.conf.py (worker_exit) and without it (atexit)."""

import json
import uuid

import pytest

from tests.faults.processes import BARE_CONF, ROOT, Gunicorn, RedisServer

pytestmark = pytest.mark.faults


@pytest.mark.parametrize("conf", ["project", "bare"])
def test_a_clean_shutdown_leaves_every_answered_decision_in_the_log(tmp_path, conf):
    redis_server = RedisServer(tmp_path / "redis").start()
    data_dir = tmp_path / "var"
    server = Gunicorn(
        {
            "WAYFINDER_REDIS_URL": redis_server.url,
            "WAYFINDER_DATA_DIR": str(data_dir),
            "WAYFINDER_REGISTRY": str(tmp_path / "registry"),  # no model: the decisions fall back, logged all the same
            "WAYFINDER_TENANT": "fault" + uuid.uuid4().hex[:8],
            "WAYFINDER_DECISION_LOG_FLUSH_MS": "3600000",
        },
        preload=conf == "project",
    )
    if conf == "project":
        server.command[server.command.index(str(BARE_CONF))] = str(ROOT / "gunicorn.conf.py")
    answered = []
    try:
        server.start()
        for n in range(40):
            status, body = server.request("POST", "/v1/decisions", {"visitor_id": f"v{n}", "placement": "home_hero"})
            assert status == 200, body
            answered.append(body["decision_id"])
        assert _logged(data_dir) == []  # the interval is an hour: nothing written yet
    finally:
        server.stop()
        redis_server.kill()
    assert server.process.returncode == 0
    assert sorted(_logged(data_dir)) == sorted(answered)


def _logged(data_dir) -> list[str]:
    return [
        json.loads(line)["decision_id"]
        for path in (data_dir / "decisions").glob("*.jsonl")
        for line in path.read_text().splitlines()
    ]
