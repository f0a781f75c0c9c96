"""Python client for the Wayfinder API."""

from wayfinder_client.client import Wayfinder, WayfinderError

__all__ = ["Wayfinder", "WayfinderError"]
