"""HTTP views: parse, one domain call, dump. They import neither redis nor lightgbm."""

from flask import current_app


def services():
    """The process-wide Services of the running app."""
    return current_app.extensions["wayfinder"]
