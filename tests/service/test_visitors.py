"""The visitor view's figures: channel preference from responses and impressions."""

import pytest

from service.visitors import channel_preference


@pytest.mark.parametrize(
    "responses, impressions, expected",
    [
        ({"app": 1}, {"app": 4}, {"responses": 1, "impressions": 4, "response_rate": 0.25}),
        ({"app": 0}, {"app": 3}, {"responses": 0, "impressions": 3, "response_rate": 0.0}),
        # outcomes nothing shown prompted (organic clicks) can outnumber impressions: still a rate
        ({"app": 5}, {"app": 2}, {"responses": 5, "impressions": 2, "response_rate": 1.0}),
        ({"app": 2}, {}, {"responses": 2, "impressions": 0, "response_rate": None}),
        ({}, {"app": 3}, {"responses": 0, "impressions": 3, "response_rate": 0.0}),
    ],
)
def test_channel_preference_rate_is_responses_per_impression_within_0_and_1(responses, impressions, expected):
    assert channel_preference({"response_counts": responses}, impressions) == {"app": expected}


def test_channel_preference_of_a_context_without_response_counts():
    assert channel_preference({}, {"web": 2}) == {"web": {"responses": 0, "impressions": 2, "response_rate": 0.0}}
