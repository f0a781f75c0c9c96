"""Wayfinder configuration: settings with defaults in code, and the YAML files beside them."""
