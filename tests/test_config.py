"""Settings and identifier checks: pure logic, no server."""

from __future__ import annotations

import pytest

from seedbed.config import check_identifier, load_settings, normalize_url, redact_url
from seedbed.errors import ConfigError


@pytest.mark.parametrize("name", ["seedbed", "_x", "shop_2024", "a" * 63])
def test_plain_identifiers_are_accepted(name: str) -> None:
    assert check_identifier(name) == name


@pytest.mark.parametrize(
    "name",
    ["", "Seedbed", "1abc", "has-dash", "has space", 'quo"te', "a" * 64, "pg_catalog", "é"],
)
def test_other_names_are_refused(name: str) -> None:
    with pytest.raises(ConfigError, match="invalid namespace"):
        check_identifier(name)


def test_multibyte_names_count_bytes_not_characters() -> None:
    with pytest.raises(ConfigError):
        check_identifier("ä" * 40)


@pytest.mark.parametrize(
    ("pasted", "expected"),
    [
        ("postgresql://u:p@h:5432/d", "postgresql+psycopg://u:p@h:5432/d"),
        ("postgres://u@h/d", "postgresql+psycopg://u@h/d"),
        ("postgresql+psycopg://h/d", "postgresql+psycopg://h/d"),
    ],
)
def test_pasted_urls_use_psycopg3(pasted: str, expected: str) -> None:
    assert normalize_url(pasted) == expected


def test_non_postgres_url_is_refused() -> None:
    with pytest.raises(ConfigError, match="mysql"):
        normalize_url("mysql://h/d")


def test_redact_url_hides_password() -> None:
    assert redact_url("postgresql://user:s3cret@host/db") == "postgresql://user:***@host/db"


def test_settings_read_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEEDBED_SCHEMA", "from_env")
    monkeypatch.setenv("DATABASE_URL", "postgres://u@h/d")
    settings = load_settings()
    assert settings.schema == "from_env"
    assert settings.database_url == "postgresql+psycopg://u@h/d"
    assert not settings.embedded


def test_bad_schema_in_environment_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEEDBED_SCHEMA", "Robert'); DROP TABLE")
    with pytest.raises(ConfigError):
        load_settings()
