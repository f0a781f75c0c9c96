"""docs/configuration.md's settings table: every setting of config/settings.py, with its default, and nothing else."""

import dataclasses
import re
from pathlib import Path

from config.settings import ENV_PREFIX, Settings

PAGE = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"
ROW = re.compile(r"^\| `(WAYFINDER_[A-Z0-9_]+)` \| ([^|]*) \|", re.MULTILINE)


def documented() -> dict[str, str]:
    """Variable -> the default cell as written, from the table's rows."""
    return {name: cell.strip() for name, cell in ROW.findall(PAGE.read_text(encoding="utf-8"))}


def written(field: dataclasses.Field) -> str:
    """How the table writes a default: empty as *(empty)*, the config folder as `config/`, the rest as code."""
    if field.name == "config_dir":
        return "`config/`"
    return "*(empty)*" if field.default == "" else f"`{field.default}`"


def test_every_setting_is_in_the_table_with_its_default():
    rows = documented()
    expected = {ENV_PREFIX + field.name.upper(): written(field) for field in dataclasses.fields(Settings)}
    assert {name: rows.get(name) for name in expected} == expected


def test_the_table_names_no_setting_that_does_not_exist():
    known = {ENV_PREFIX + field.name.upper() for field in dataclasses.fields(Settings)}
    assert set(documented()) - known == set()
