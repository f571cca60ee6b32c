"""Settings: defaults < TOML file < BRIDGE_* variables < explicit overrides; every error at once."""

from __future__ import annotations

import pytest

from config import ConfigError, Settings, load_settings

SECRET = "k" * 40


def test_defaults_apply_when_nothing_is_set():
    settings = load_settings(env={"BRIDGE_SECRET_KEY": SECRET})
    assert settings.port == 5000 and settings.sandbox is False
    assert settings.effective_database_url.startswith(
        "sqlite:///"
    ) and settings.effective_database_url.endswith("var/bridge.db")
    assert settings.cache_threshold > 500


def test_environment_overrides_toml_which_overrides_defaults(tmp_path):
    toml = tmp_path / "bridge.toml"
    toml.write_text('port = 6000\nhost = "0.0.0.0"\nsandbox = true\n')
    settings = load_settings(
        env={"BRIDGE_CONFIG": str(toml), "BRIDGE_PORT": "7000", "BRIDGE_SECRET_KEY": SECRET}
    )
    assert (settings.port, settings.host, settings.sandbox) == (7000, "0.0.0.0", True)


def test_explicit_overrides_win_over_environment():
    settings = load_settings(
        env={"BRIDGE_SECRET_KEY": SECRET, "BRIDGE_PORT": "7000"}, overrides={"port": 7100}
    )
    assert settings.port == 7100


def test_every_problem_is_listed_at_once_when_configuration_is_bad(tmp_path):
    env = {"BRIDGE_PORT": "eighty", "BRIDGE_SANDBOX": "maybe", "BRIDGE_PUBLIC_URL": "ftp://x",
           "BRIDGE_DATABASE_URL": "mysql://db/x", "BRIDGE_LOG_LEVEL": "LOUD"}  # fmt: skip
    with pytest.raises(ConfigError) as caught:
        load_settings(env=env)
    text = "\n".join(caught.value.problems)
    for fragment in ("port", "sandbox", "public_url", "database_url", "log_level", "secret_key"):
        assert fragment in text
    assert len(caught.value.problems) >= 6


def test_unknown_toml_key_and_missing_file_are_reported(tmp_path):
    toml = tmp_path / "bad.toml"
    toml.write_text("prot = 1\n")
    with pytest.raises(ConfigError, match="unknown key 'prot'"):
        load_settings(env={"BRIDGE_CONFIG": str(toml), "BRIDGE_SECRET_KEY": SECRET})
    with pytest.raises(ConfigError, match="file not found"):
        load_settings(
            env={"BRIDGE_CONFIG": str(tmp_path / "none.toml"), "BRIDGE_SECRET_KEY": SECRET}
        )


def test_invalid_toml_is_reported_with_its_path(tmp_path):
    toml = tmp_path / "broken.toml"
    toml.write_text("port = = 1\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(env={"BRIDGE_CONFIG": str(toml), "BRIDGE_SECRET_KEY": SECRET})


def test_secret_key_is_read_from_a_file_when_given(tmp_path):
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET + "\n")
    assert load_settings(env={"BRIDGE_SECRET_KEY_FILE": str(secret_file)}).secret_key == SECRET


def test_short_secret_key_is_refused():
    with pytest.raises(ConfigError, match="secret_key"):
        load_settings(env={"BRIDGE_SECRET_KEY": "short"})


@pytest.mark.parametrize(
    ("raw", "value"), [("1", True), ("true", True), ("On", True), ("0", False), ("no", False)]
)
def test_booleans_accept_the_usual_spellings(raw, value):
    assert load_settings(env={"BRIDGE_SECRET_KEY": SECRET, "BRIDGE_SANDBOX": raw}).sandbox is value


def test_example_toml_documents_every_setting():
    import tomllib  # noqa: PLC0415
    from dataclasses import fields  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    example = Path(__file__).parents[3] / "config" / "example.toml"
    text = example.read_text()
    tomllib.loads(text)
    for field in fields(Settings):
        assert f"{field.name} =" in text, f"config/example.toml does not document {field.name}"
