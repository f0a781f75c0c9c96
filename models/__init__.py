"""Shared model code: journey reducer, feature spec, model kinds and bundle format (no Flask, no Redis)."""
