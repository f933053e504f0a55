"""Settings: defaults, dotenv layering, one clear error per bad value, the cipher key file."""

import base64
from pathlib import Path

import pytest

from adapters.platform.cipher_key import resolve_cipher_key
from adapters.platform.outbound_settings import OUTBOUND_SETTINGS
from adapters.platform.runner_settings import RUNNER_SETTINGS
from adapters.platform.secret_settings import SECRET_SETTINGS
from adapters.platform.server_settings import SERVER_SETTINGS
from adapters.platform.settings import Settings, SettingsError, load_settings
from adapters.platform.telemetry_settings import TELEMETRY_SETTINGS
from adapters.platform.work_settings import WORK_SETTINGS


def write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def test_defaults_with_nothing_set(tmp_path: Path) -> None:
    settings = load_settings({}, cwd=tmp_path)

    assert settings == Settings(
        database_url=None,
        nats_url=None,
        data_dir=tmp_path.resolve() / ".flowledger",
        host="127.0.0.1",
        port=8000,
        max_event_bytes=1_048_576,
        log_level="INFO",
    )


def test_every_field_from_the_environment(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "FLOWLEDGER_DATABASE_URL": "postgresql://app:pw@db:5432/flowledger",
            "FLOWLEDGER_NATS_URL": "nats://a:4222, tls://b:4222",
            "FLOWLEDGER_DATA_DIR": "var/data",
            "FLOWLEDGER_HOST": "0.0.0.0",
            "FLOWLEDGER_PORT": "9000",
            "FLOWLEDGER_MAX_EVENT_BYTES": "2048",
            "FLOWLEDGER_LOG_LEVEL": "debug",
        },
        cwd=tmp_path,
    )

    assert settings.database_url == "postgresql://app:pw@db:5432/flowledger"
    assert settings.nats_url == "nats://a:4222,tls://b:4222"
    assert settings.data_dir == tmp_path.resolve() / "var" / "data"
    assert (settings.host, settings.port) == ("0.0.0.0", 9000)
    assert settings.max_event_bytes == 2048
    assert settings.log_level == "DEBUG"


def test_layers_env_default_then_env_then_env_local_then_environment(tmp_path: Path) -> None:
    write(tmp_path / ".env.default", "FLOWLEDGER_PORT=1001\nFLOWLEDGER_HOST=default\n")
    write(tmp_path / ".env", "FLOWLEDGER_PORT=1002\nFLOWLEDGER_LOG_LEVEL=ERROR\n")
    write(tmp_path / ".env.local", "FLOWLEDGER_PORT=1003\nFLOWLEDGER_MAX_EVENT_BYTES=10\n")

    assert load_settings({}, cwd=tmp_path).port == 1003
    assert load_settings({"FLOWLEDGER_PORT": "1004"}, cwd=tmp_path).port == 1004
    (tmp_path / ".env.local").unlink()
    assert load_settings({}, cwd=tmp_path).port == 1002
    (tmp_path / ".env").unlink()
    settings = load_settings({}, cwd=tmp_path)
    assert (settings.port, settings.host, settings.log_level) == (1001, "default", "INFO")


def test_an_empty_value_in_a_later_layer_unsets_an_earlier_one(tmp_path: Path) -> None:
    write(tmp_path / ".env", "FLOWLEDGER_DATABASE_URL=postgresql://db/flowledger\n")

    assert load_settings({"FLOWLEDGER_DATABASE_URL": ""}, cwd=tmp_path).database_url is None


def test_environ_defaults_to_the_process_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWLEDGER_PORT", "4321")

    assert load_settings(cwd=tmp_path).port == 4321


def test_dotenv_syntax(tmp_path: Path) -> None:
    write(
        tmp_path / ".env",
        "# a comment\n"
        "\n"
        "export FLOWLEDGER_HOST = example.org  # trailing comment\n"
        "FLOWLEDGER_DATABASE_URL='postgresql://u:p#not-a-comment@db/x'\n"
        'FLOWLEDGER_DATA_DIR="dir with \\"quotes\\""  # comment\n'
        "FLOWLEDGER_LOG_LEVEL=warning\n"
        "OTHER_TOOL_SETTING=ignored\n",
    )

    settings = load_settings({}, cwd=tmp_path)

    assert settings.host == "example.org"
    assert settings.database_url == "postgresql://u:p#not-a-comment@db/x"
    assert settings.data_dir == tmp_path.resolve() / 'dir with "quotes"'
    assert settings.log_level == "WARNING"


def test_malformed_dotenv_lines_name_file_and_line(tmp_path: Path) -> None:
    write(tmp_path / ".env.local", "FLOWLEDGER_PORT=1\nnot a pair\nFLOWLEDGER_HOST='open\n")

    with pytest.raises(SettingsError) as caught:
        load_settings({}, cwd=tmp_path)

    path = tmp_path.resolve() / ".env.local"
    assert caught.value.problems == (
        f"{path}:2: expected KEY=VALUE, got 'not a pair'",
        f"{path}:3: unterminated quote in value of FLOWLEDGER_HOST",
    )


def test_unknown_flowledger_variables_are_ignored(tmp_path: Path) -> None:
    settings = load_settings({"FLOWLEDGER_NOT_A_SETTING": "x"}, cwd=tmp_path)

    assert settings == load_settings({}, cwd=tmp_path)


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("FLOWLEDGER_PORT", "abc", "expected an integer port between 1 and 65535"),
        ("FLOWLEDGER_PORT", "0", "expected an integer port between 1 and 65535"),
        ("FLOWLEDGER_PORT", "65536", "expected an integer port between 1 and 65535"),
        ("FLOWLEDGER_DATABASE_URL", "mysql://db/x", "expected a postgres:// or postgresql://"),
        ("FLOWLEDGER_NATS_URL", "http://nats:4222", "expected nats://host:port or tls://"),
        ("FLOWLEDGER_NATS_URL", "nats://a:4222,", "expected nats://host:port or tls://"),
        ("FLOWLEDGER_HOST", "two words", "expected a host name or IP address"),
        ("FLOWLEDGER_MAX_EVENT_BYTES", "-5", "expected a positive integer number of bytes"),
        ("FLOWLEDGER_MAX_EVENT_BYTES", "1MB", "expected a positive integer number of bytes"),
        ("FLOWLEDGER_LOG_LEVEL", "TRACE", "expected one of DEBUG, INFO, WARNING, ERROR"),
    ],
)
def test_invalid_value_names_variable_and_expectation(
    tmp_path: Path, variable: str, value: str, expected: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({variable: value}, cwd=tmp_path)

    assert str(caught.value).startswith(f"{variable}={value!r}: {expected}")
    assert isinstance(caught.value, ValueError)


def test_all_problems_are_reported_together(tmp_path: Path) -> None:
    write(tmp_path / ".env", "FLOWLEDGER_LOG_LEVEL=loud\n")

    with pytest.raises(SettingsError) as caught:
        load_settings({"FLOWLEDGER_PORT": "abc"}, cwd=tmp_path)

    assert caught.value.problems == (
        "FLOWLEDGER_PORT='abc': expected an integer port between 1 and 65535",
        "FLOWLEDGER_LOG_LEVEL='loud': expected one of DEBUG, INFO, WARNING, ERROR"
        f" (set in {tmp_path.resolve() / '.env'})",
    )


def test_a_rejected_url_does_not_echo_its_password(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"FLOWLEDGER_DATABASE_URL": "mysql://app:s3cret@db/x"}, cwd=tmp_path)

    assert "s3cret" not in str(caught.value)
    assert "mysql://app:***@db/x" in str(caught.value)


CIPHER_KEY = "q" * 43 + "="  # base64 of 32 bytes


def test_security_defaults(tmp_path: Path) -> None:
    settings = load_settings({}, cwd=tmp_path)

    assert (settings.jwt_secret, settings.cipher_key, settings.cors_origins) == (None, None, ())
    assert (settings.rate_limit_per_key, settings.rate_limit_per_address) == (6000, 12000)
    assert settings.max_body_bytes == 1_048_576


def test_security_settings_from_the_environment(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "FLOWLEDGER_JWT_SECRET": "s" * 32,
            "FLOWLEDGER_CIPHER_KEY": CIPHER_KEY,
            "FLOWLEDGER_CORS_ORIGINS": "https://app.example.com, http://localhost:3000/",
            "FLOWLEDGER_RATE_LIMIT_PER_KEY": "0",
            "FLOWLEDGER_RATE_LIMIT_PER_ADDRESS": "30",
            "FLOWLEDGER_MAX_BODY_BYTES": "4096",
        },
        cwd=tmp_path,
    )

    assert settings.jwt_secret == "s" * 32
    assert settings.cipher_key == CIPHER_KEY
    assert settings.cors_origins == ("https://app.example.com", "http://localhost:3000")
    assert (settings.rate_limit_per_key, settings.rate_limit_per_address) == (0, 30)
    assert settings.max_body_bytes == 4096
    assert load_settings({"FLOWLEDGER_CORS_ORIGINS": "*"}, cwd=tmp_path).cors_origins == ("*",)


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("FLOWLEDGER_CORS_ORIGINS", "app.example.com", "expected `*` alone, or comma-separated"),
        ("FLOWLEDGER_CORS_ORIGINS", "https://a.example.com/path", "expected `*` alone"),
        ("FLOWLEDGER_CORS_ORIGINS", "*, https://a.example.com", "expected `*` alone"),
        ("FLOWLEDGER_RATE_LIMIT_PER_KEY", "-1", "expected a non-negative integer of requests"),
        ("FLOWLEDGER_RATE_LIMIT_PER_ADDRESS", "many", "expected a non-negative integer"),
        ("FLOWLEDGER_MAX_BODY_BYTES", "0", "expected a positive integer number of bytes"),
    ],
)
def test_invalid_security_value_names_variable_and_expectation(
    tmp_path: Path, variable: str, value: str, expected: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({variable: value}, cwd=tmp_path)

    assert str(caught.value).startswith(f"{variable}={value!r}: {expected}")


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("FLOWLEDGER_JWT_SECRET", "too-short-secret", "expected at least 32 characters"),
        ("FLOWLEDGER_CIPHER_KEY", "not base64!", "expected the base64 encoding of 32 random"),
        ("FLOWLEDGER_CIPHER_KEY", "c2hvcnQ=", "expected the base64 encoding of 32 random"),
    ],
)
def test_an_invalid_secret_is_named_but_never_echoed(
    tmp_path: Path, variable: str, value: str, expected: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({variable: value}, cwd=tmp_path)

    assert str(caught.value).startswith(f"{variable}=<redacted>: {expected}")
    assert value not in str(caught.value)


def test_secrets_stay_out_of_the_repr(tmp_path: Path) -> None:
    settings = load_settings(
        {"FLOWLEDGER_JWT_SECRET": "j" * 40, "FLOWLEDGER_CIPHER_KEY": CIPHER_KEY}, cwd=tmp_path
    )

    assert "j" * 40 not in repr(settings)
    assert CIPHER_KEY not in repr(settings)
    assert "jwt_secret=<redacted>" in repr(settings)


def test_the_configured_cipher_key_wins(tmp_path: Path) -> None:
    settings = load_settings({"FLOWLEDGER_CIPHER_KEY": CIPHER_KEY}, cwd=tmp_path)

    assert resolve_cipher_key(settings) == CIPHER_KEY
    assert not (settings.data_dir / "cipher.key").exists()


def test_without_a_cipher_key_one_is_created_once_for_the_owner_only(tmp_path: Path) -> None:
    settings = load_settings({}, cwd=tmp_path)

    first = resolve_cipher_key(settings)

    path = settings.data_dir / "cipher.key"
    assert path.stat().st_mode & 0o777 == 0o600
    assert len(base64.b64decode(first, validate=True)) == 32
    assert resolve_cipher_key(settings) == first
    assert [p.name for p in settings.data_dir.iterdir()] == ["cipher.key"]


def test_a_damaged_cipher_key_file_is_refused_naming_the_file(tmp_path: Path) -> None:
    settings = load_settings({}, cwd=tmp_path)
    settings.data_dir.mkdir()
    (settings.data_dir / "cipher.key").write_text("garbage\n")

    with pytest.raises(SettingsError, match=r"cipher\.key: expected the base64"):
        resolve_cipher_key(settings)


def test_telemetry_defaults_and_settings(tmp_path: Path) -> None:
    assert load_settings({}, cwd=tmp_path).traces_exporter == "none"
    settings = load_settings(
        {
            "FLOWLEDGER_LOG_FORMAT": "TEXT",
            "FLOWLEDGER_TRACES_EXPORTER": "otlp",
            "FLOWLEDGER_OTLP_ENDPOINT": "http://collector:4318/v1/traces",
            "FLOWLEDGER_TRACE_SAMPLE_RATIO": "0.1",
            "FLOWLEDGER_METRICS_ENABLED": "off",
            "FLOWLEDGER_PROBE_PORT": "9100",
            "FLOWLEDGER_READY_MAX_LAG_S": "0",
        },
        cwd=tmp_path,
    )

    assert (settings.log_format, settings.traces_exporter) == ("text", "otlp")
    assert settings.otlp_endpoint == "http://collector:4318/v1/traces"
    assert settings.trace_sample_ratio == 0.1
    assert settings.metrics_enabled is False
    assert (settings.probe_port, settings.ready_max_lag_s) == (9100, 0)


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("FLOWLEDGER_LOG_FORMAT", "xml", "expected one of auto, json, console, text"),
        ("FLOWLEDGER_TRACES_EXPORTER", "jaeger", "expected one of none, console, otlp"),
        ("FLOWLEDGER_OTLP_ENDPOINT", "collector:4318", "expected an http:// or https:// URL"),
        ("FLOWLEDGER_TRACE_SAMPLE_RATIO", "1.5", "expected a number from 0 to 1"),
        ("FLOWLEDGER_TRACE_SAMPLE_RATIO", "half", "expected a number from 0 to 1"),
        ("FLOWLEDGER_METRICS_ENABLED", "maybe", "expected true or false"),
        ("FLOWLEDGER_PROBE_PORT", "0", "expected an integer port"),
        ("FLOWLEDGER_READY_MAX_LAG_S", "-5", "expected 0 to 86400 seconds"),
    ],
)
def test_invalid_telemetry_value_names_variable_and_expectation(
    tmp_path: Path, variable: str, value: str, expected: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({variable: value}, cwd=tmp_path)

    assert str(caught.value).startswith(f"{variable}={value!r}: {expected}")


def test_every_setting_has_exactly_one_rule_in_one_concern() -> None:
    tables = (
        SERVER_SETTINGS,
        WORK_SETTINGS,
        TELEMETRY_SETTINGS,
        RUNNER_SETTINGS,
        OUTBOUND_SETTINGS,
        SECRET_SETTINGS,
    )
    named = [field for table in tables for field in table]

    assert sorted(named) == sorted(Settings.__struct_fields__)
