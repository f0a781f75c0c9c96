"""Frequency caps for the service: the pure counter logic lives in models.caps (the rebuild uses it too)."""

from models.caps import (  # noqa: F401 (re-exported for the service's modules)
    CAP_WINDOWS,
    DAY_S,
    KEEP_DAYS,
    cap_reached,
    channel_field,
    channel_impressions,
    day_of,
    impression_increments,
    impressions,
    item_field,
    placement_field,
    stale_fields,
)
