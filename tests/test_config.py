"""Settings and identifier checks: pure logic, no server."""

from __future__ import annotations

from pathlib import Path

import pytest

from seedbed.config import (
    check_identifier,
    load_settings,
    migrations_setting,
    normalize_url,
    redact_url,
)
from seedbed.errors import ConfigError


@pytest.mark.parametrize(
    "name",
    ["seedbed", "_x", "shop_2024", "a" * 63, "public", "my-app", "Auth", "it's", "é", "1abc"],
)
def test_any_name_postgresql_takes_is_accepted(name: str) -> None:
    assert check_identifier(name) == name


@pytest.mark.parametrize("name", ["", "a" * 64, "pg_catalog", "nul\x00byte", 'quo"te'])
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
    monkeypatch.setenv("SEEDBED_SCHEMA", "pg_robert")
    with pytest.raises(ConfigError):
        load_settings()


def test_models_setting_names_a_folder_a_module_or_the_database(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("SEEDBED_MODELS", raising=False)
    assert load_settings().models is None
    for value in ("database", str(tmp_path), "shop.models"):
        monkeypatch.setenv("SEEDBED_MODELS", value)
        assert load_settings().models == value
    monkeypatch.setenv("SEEDBED_MODELS", str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="SEEDBED_MODELS"):
        load_settings()


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://me:s3cret@h/db", "postgresql://me:***@h/db"),
        ("postgresql://me:s3@cret@h:5432/db", "postgresql://me:***@h:5432/db"),
        ("postgresql://me:s3/cr@t@h/db", "postgresql://me:***@h/db"),
        ("postgresql://me@h/db?password=s3cret", "postgresql://me@h/db?password=***"),
        (
            "postgresql://me@h/db?sslmode=require&PASSWORD=s3cret&x=1",
            "postgresql://me@h/db?sslmode=require&PASSWORD=***&x=1",
        ),
        ("postgresql://h/db?sslpassword=s3cret", "postgresql://h/db?sslpassword=***"),
        (
            "postgresql://h/db?oauth_client_secret=s3cret&sslmode=require",
            "postgresql://h/db?oauth_client_secret=***&sslmode=require",
        ),
    ],
)
def test_redact_url_hides_every_password(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_an_unescaped_at_sign_stays_in_the_password() -> None:
    normal = normalize_url("postgresql://me:s3@cret@h:5432/db")
    assert normal == "postgresql+psycopg://me:s3%40cret@h:5432/db"
    assert normalize_url("postgresql://me:s3%40cret@h/db").endswith("me:s3%40cret@h/db")


@pytest.mark.parametrize(
    "url", ["postgresql://me:pw@h:abc/db", "postgresql://h:5432,h2:x/db", "postgresql://me:a?b@h/d"]
)
def test_a_port_that_is_not_a_number_is_refused_without_the_password(url: str) -> None:
    with pytest.raises(ConfigError, match="port is not a number") as caught:
        normalize_url(url)
    assert "pw" not in str(caught.value) and "a?b" not in str(caught.value)


def test_a_home_that_is_a_file_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.write_text("")
    with pytest.raises(ConfigError, match="not a folder"):
        load_settings(home=home)
    assert load_settings(home=home, database_url="postgresql://h/d").home == home


def test_a_home_under_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match="lies under"):
        load_settings(home=tmp_path / "file" / "deeper" / "home")
    assert load_settings(home=tmp_path / "new" / "home").home == tmp_path / "new" / "home"


def test_migrations_that_are_not_an_alembic_folder_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEEDBED_MIGRATIONS", str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="is not a folder"):
        load_settings()
    monkeypatch.setenv("SEEDBED_MIGRATIONS", str(tmp_path))
    with pytest.raises(ConfigError, match=r"has no env\.py"):
        migrations_setting()
    (tmp_path / "env.py").write_text("")
    assert migrations_setting() == tmp_path
    monkeypatch.setenv("SEEDBED_MIGRATIONS", "")
    assert migrations_setting() is None


@pytest.mark.parametrize(
    ("url", "refused"),
    [
        ("postgresql://u@/d?host=/no/such/socket", "socket folder '/no/such/socket'"),
        ("postgresql://u@/d?host=/tmp,/no/such/socket", "socket folder '/no/such/socket'"),
        ("postgresql://u@%2Fno%2Fsuch/d", "socket folder '/no/such'"),
        ("postgresql://u:pw@h/d?sslmode=require&sslrootcert=/no/ca.pem", "sslrootcert"),
        ("postgresql://u:pw@h/d?sslcert=/no/client.crt", "sslcert '/no/client.crt'"),
        ("postgresql://u:pw@h/d?sslkey=/no/client.key", "sslkey"),
        ("postgresql://u:pw@h/d?sslcrl=/no/crl.pem", "sslcrl"),
        ("postgresql://u:pw@h/d?sslcrldir=/no/crls", "sslcrldir '/no/crls' is not a folder"),
        ("postgresql://u:pw@h/d?passfile=/no/pgpass", "passfile"),
    ],
)
def test_a_url_naming_a_local_path_that_is_not_there_is_refused(url: str, refused: str) -> None:
    with pytest.raises(ConfigError, match="DATABASE_URL") as caught:
        load_settings(database_url=url)
    assert refused in str(caught.value)
    assert "pw" not in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u@/d?host=/tmp",
        "postgresql://u@%2Ftmp:5433/d",
        "postgresql://u@h/d?sslmode=verify-full&sslrootcert=system",
        "postgresql://u@h1,h2:5433/d?connect_timeout=3",
    ],
)
def test_a_url_naming_paths_that_are_there_is_accepted(url: str) -> None:
    assert load_settings(database_url=url).database_url is not None


def test_a_setting_set_to_the_empty_string_counts_as_unset(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("SEEDBED_SCHEMA", "DATABASE_URL", "SEEDBED_HOME", "SEEDBED_MIGRATIONS"):
        monkeypatch.setenv(name, "")
    settings = load_settings()
    assert (settings.schema, settings.database_url, settings.home) == (
        "seedbed",
        None,
        Path(".seedbed"),
    )
    assert migrations_setting() is None
