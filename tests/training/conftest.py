"""Training suites run once, on the embedded Redis.

What training reads is the journal; a service app appears here only to produce logged traffic as
it would in production. The context store's behaviour on both Redis backends (embedded and the
server) is the service suites' subject (tests/service, tests/faults), so running each training test
twice would retrain the same models on the same logs for nothing (about 100 s of the suite).
"""

import pytest


@pytest.fixture
def redis_backend(embedded_redis):
    return "embedded", None, embedded_redis
