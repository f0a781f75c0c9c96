"""Outcomes joined to decisions: the join lives in models.join (the service's lift report uses it too)."""

from models.join import Joined, join_outcomes

__all__ = ["Joined", "join_outcomes"]
