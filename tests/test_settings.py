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
        ("WAYFINDER_RATE_LIMITS", "rate_limits", "off", "off"),
        ("WAYFINDER_RATE_LIMIT_PUBLIC", "rate_limit_public", "50/100", "50/100"),
        ("WAYFINDER_RATE_LIMIT_SERVER", "rate_limit_server", "500/1000", "500/1000"),
        ("WAYFINDER_RATE_LIMIT_ADMIN", "rate_limit_admin", "1/5", "1/5"),
        ("WAYFINDER_RATE_LIMIT_VISITOR", "rate_limit_visitor", "2.5/10", "2.5/10"),
        ("WAYFINDER_RETENTION_DAYS", "retention_days", "90", 90.0),
        ("WAYFINDER_RETENTION_ARCHIVE_DIR", "retention_archive_dir", "/srv/archive", "/srv/archive"),
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
