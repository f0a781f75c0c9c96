"""Waiting in tests without timing anything: poll a condition until it holds, fail after a generous deadline."""

import time

import pytest


def wait_for(condition, deadline_s: float = 30.0, interval_s: float = 0.05):
    """Poll until `condition()` is truthy and return its value; fail, naming the condition by its docstring, after
    `deadline_s`. An exception from `condition` fails the test at once (nothing is swallowed)."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(interval_s)
    pytest.fail(f"not true within {deadline_s} s: {condition.__doc__ or condition}")
