"""Settings: an empty environment gives the defaults; each variable lands on its field."""

from pathlib import Path

import pytest

from config.settings import Settings


def test_empty_environment_equals_defaults():
    assert Settings.from_env(environ={}) == Settings()


@pytest.mark.parametrize(
    "variable, field, raw, expected",
    [
        ("WAYFINDER_REDIS_URL", "redis_url", "redis://h:6379/0", "redis://h:6379/0"),
        ("WAYFINDER_DATA_DIR", "data_dir", "/srv/wf", Path("/srv/wf")),
        ("WAYFINDER_REGISTRY", "registry", "/srv/models", Path("/srv/models")),
        ("WAYFINDER_PORT", "port", "9000", 9000),
        ("WAYFINDER_CONFIG_DIR", "config_dir", "/etc/wf", Path("/etc/wf")),
        ("WAYFINDER_TENANT", "tenant", "acme", "acme"),
        ("WAYFINDER_RELOAD_INTERVAL_S", "reload_interval_s", "0.5", 0.5),
    ],
)
def test_each_variable_lands_on_its_field(variable, field, raw, expected):
    assert getattr(Settings.from_env(environ={variable: raw}), field) == expected


def test_overrides_beat_environment():
    settings = Settings.from_env(environ={"WAYFINDER_PORT": "9000"}, port=7000)
    assert settings.port == 7000


def test_bad_number_names_the_variable():
    with pytest.raises(ValueError, match="WAYFINDER_PORT='eighty' is not a valid int"):
        Settings.from_env(environ={"WAYFINDER_PORT": "eighty"})


def test_summary_masks_redis_password():
    line = Settings(redis_url="redis://user:secret@host:6379/0").summary()
    assert "secret" not in line and "user:***@host" in line
