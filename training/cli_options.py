"""The options every `python -m training` command takes, before or after its name, with one default each.

`python -m training --registry R evaluate ...` and `python -m training evaluate --registry R ...` are the
same command; given in both places, the one after the command's name wins. The defaults are the
settings' (config/settings.py: WAYFINDER_REGISTRY, WAYFINDER_DATA_DIR, WAYFINDER_CONFIG_DIR).
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from config.settings import Settings

PATHS = ("registry", "data_dir", "config_dir")
"""The common options that name a folder, each a field of Settings."""
HELP = {
    "registry": "model registry folder",
    "data_dir": "the service's data folder (events/, decisions/, profiles/, keys)",
    "config_dir": "journey.yaml, catalog.yaml and placements.yaml",
}


def common_options(settings: Settings, top: bool) -> argparse.ArgumentParser:
    """A parent parser of the common options: on the main parser (`top`) they start unset; on a command's,
    they are left out of the result unless given, so a value after the command's name replaces one before."""
    parser = argparse.ArgumentParser(add_help=False)
    group = parser.add_argument_group("common options (before or after the command's name)")
    for name in PATHS:
        group.add_argument(
            "--" + name.replace("_", "-"),
            dest=name,
            default=None if top else argparse.SUPPRESS,
            help=f"{HELP[name]} (default: {getattr(settings, name)}, WAYFINDER_{name.upper()})",
        )
    group.add_argument(
        "--quiet",
        action="store_true",
        default=False if top else argparse.SUPPRESS,
        help="no progress lines on stderr (results still print)",
    )
    return parser


def resolve(args: argparse.Namespace, settings: Settings) -> Settings:
    """The settings with the common options given in place of their defaults. Each option's value is
    left on `args` as a string, and `args.given` names the ones given on the command line."""
    given = {name: Path(getattr(args, name)) for name in PATHS if getattr(args, name, None) is not None}
    settings = dataclasses.replace(settings, **given)
    for name in PATHS:
        setattr(args, name, str(getattr(settings, name)))
    args.given = frozenset(given)
    return settings
