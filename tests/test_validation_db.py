"""Validation against a real PostgreSQL: COPY agrees, and the database's rows count."""

from __future__ import annotations

import csv
import io
import os
import subprocess
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from seedbed.config import Settings
from seedbed.db import get_engine, schema_of
from seedbed.errors import DatabaseError
from seedbed.models import metadata_for
from seedbed.validation import validate
from tests.helpers import run_cli_here

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "data" / "seeds"
INVALID = ROOT / "data" / "invalid"

#: Cases PostgreSQL's COPY accepts although seedbed refuses them, and why.
STRICTER_CASES = {
    "bad_boolean": "COPY also reads yes/no/on/off/1/0 as booleans; seeds use true/false",
    "bad_timestamp": "COPY reads 03/09/2024 by the session's DateStyle; seeds use ISO 8601",
    "empty_file": "COPY of nothing loads nothing; a seed file without a header is a mistake",
}


def copy_files(engine: Engine, files: list[Path], *, commit: bool = False) -> str | None:
    """COPY ``files`` (parents first) in one transaction; the error, or None when accepted."""
    schema = schema_of(engine)
    order = [t.name for t in metadata_for(schema).sorted_tables]
    files = sorted(files, key=lambda f: order.index(f.stem))
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cursor:  # type: ignore[attr-defined]
            for file in files:
                data = file.read_bytes()
                header = data.removeprefix(b"\xef\xbb\xbf").split(b"\n", 1)[0]
                names = next(csv.reader(io.StringIO(header.decode("utf-8", "replace"))), [])
                quoted = ", ".join('"' + n.replace('"', '""') + '"' for n in names)
                columns = f"({quoted})" if names else ""
                sql = (
                    f'COPY "{schema}"."{file.stem}" {columns} '
                    "FROM STDIN WITH (FORMAT csv, HEADER true)"
                )
                with cursor.copy(sql) as copy:
                    copy.write(data)
        if commit:
            raw.commit()
        else:
            raw.rollback()
        return None
    except Exception as exc:  # psycopg's errors: any refusal is the verdict
        raw.rollback()
        return str(exc).splitlines()[0]
    finally:
        raw.close()


def test_postgres_accepts_the_shipped_seeds(engine: Engine) -> None:
    assert validate(SEEDS, engine=engine).ok
    assert copy_files(engine, sorted(SEEDS.glob("*.csv"))) is None


@pytest.mark.parametrize(
    "case", sorted(p.name for p in INVALID.iterdir() if p.is_dir() and any(p.glob("*.csv")))
)
def test_postgres_refuses_what_seedbed_refuses_except_the_listed_stricter_cases(
    engine: Engine, case: str
) -> None:
    assert not validate(INVALID / case).ok
    error = copy_files(engine, sorted((INVALID / case).glob("*.csv")))
    if case in STRICTER_CASES:
        assert error is None, f"{case} is listed as stricter but COPY refuses it: {error}"
    else:
        assert error is not None, f"COPY accepted {case}"


def test_foreign_keys_may_point_at_parents_in_the_database(engine: Engine) -> None:
    assert copy_files(engine, [SEEDS / "user.csv"], commit=True) is None
    without = validate([SEEDS / "session.csv"])
    assert set(without.failures["rule"]) == {"fk_session_user_id_user"}
    assert "--against-db" in without.failures.loc[0, "message"]
    assert validate([SEEDS / "session.csv"], engine=engine).ok


def test_missing_parents_are_reported_with_the_database_in_view(
    engine: Engine, tmp_path: Path
) -> None:
    assert validate([INVALID / "missing_parent" / "session.csv"], engine=engine).failures[
        "line"
    ].tolist() == [2, 3]
    assert copy_files(engine, [INVALID / "missing_parent" / "user.csv"], commit=True) is None
    report = validate([INVALID / "missing_parent" / "session.csv"], engine=engine)
    assert report.failures[["line", "rule"]].values.tolist() == [[3, "fk_session_user_id_user"]]
    assert "or the database" in report.failures.loc[0, "message"]


def test_unique_values_already_in_the_database_are_reported(engine: Engine, tmp_path: Path) -> None:
    assert copy_files(engine, [SEEDS / "user.csv"], commit=True) is None
    lines = (SEEDS / "user.csv").read_text().splitlines()
    fresh = lines[1].replace(lines[1].split(",")[0], '"0b4ae5f1-a941-46a0-956a-26afbccdafe5"')
    (tmp_path / "user.csv").write_text("\n".join([lines[0], lines[1], fresh]) + "\n")
    report = validate(tmp_path, engine=engine)
    assert report.failures[["line", "column", "rule"]].values.tolist() == [
        [2, "email", "uq_user_email"],
        [2, "id", "pk_user"],
        [3, "email", "uq_user_email"],  # a duplicate of line 2
        [3, "email", "uq_user_email"],  # and taken in the database
    ]
    assert "already taken" in report.failures.loc[1, "message"]
    assert copy_files(engine, [tmp_path / "user.csv"]) is not None


def test_partial_unique_slugs_ignore_deleted_rows_in_the_database(
    engine: Engine, tmp_path: Path
) -> None:
    user = INVALID / "duplicate_live_slug" / "user.csv"
    posts = (INVALID / "duplicate_live_slug" / "post.csv").read_text().splitlines()
    deleted = posts[1].rstrip(",") + ",2024-06-01T00:00:00Z"
    (tmp_path / "db").mkdir()
    (tmp_path / "db" / "post.csv").write_text(posts[0] + "\n" + deleted + "\n")
    assert copy_files(engine, [user, tmp_path / "db" / "post.csv"], commit=True) is None
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "post.csv").write_text(posts[0] + "\n" + posts[2] + "\n")
    assert validate(tmp_path / "new", engine=engine).ok  # "hello" is only taken by a deleted post
    assert copy_files(engine, [tmp_path / "new" / "post.csv"], commit=True) is None
    live = posts[2].replace("5d09e040", "5d09e041")
    (tmp_path / "new" / "post.csv").write_text(posts[0] + "\n" + live + "\n")
    report = validate(tmp_path / "new", engine=engine)
    assert report.failures[["line", "rule"]].values.tolist() == [[2, "uq_post_slug_live"]]
    assert copy_files(engine, [tmp_path / "new" / "post.csv"]) is not None


def test_a_namespace_without_tables_is_a_database_error(empty_settings: Settings) -> None:
    engine = get_engine(empty_settings)
    with pytest.raises(DatabaseError, match="does not exist"):
        validate(SEEDS, engine=engine)


def test_cli_against_db_uses_the_database(settings: Settings, db_env: dict[str, str]) -> None:
    engine = get_engine(settings)
    assert copy_files(engine, [SEEDS / "user.csv"], commit=True) is None
    env = {**db_env, "SEEDBED_SCHEMA": settings.schema}
    if settings.database_url:
        env["DATABASE_URL"] = settings.database_url

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return run_cli_here("validate", *args, env=env)

    session = str(SEEDS / "session.csv")
    assert run(session).returncode == 1
    ok = run(session, "--against-db")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    taken = run(str(SEEDS / "user.csv"), "--against-db", "--json")
    assert taken.returncode == 1 and "already taken" in taken.stdout
    assert "Traceback" not in taken.stderr
    env.pop("SEEDBED_SCHEMA")
    env["SEEDBED_SCHEMA"] = "pg_not_a_name"
    bad = run(session, "--against-db")
    assert bad.returncode == 2 and bad.stderr.startswith("seedbed: error:")
    assert os.linesep not in bad.stderr.strip()


#: An empty last field after a quoted one, with and without a line ending, LF and CRLF.
_EMPTY_LAST_FIELD = {
    "crlf": b'id,name\r\n"6f1b6c1e-3c4d-4a5b-8c6d-7e8f9a0b1c2d",\r\n',
    "crlf_at_eof": b'id,name\r\n"6f1b6c1e-3c4d-4a5b-8c6d-7e8f9a0b1c2d",',
    "lf_at_eof": b'id,name\n"6f1b6c1e-3c4d-4a5b-8c6d-7e8f9a0b1c2d",',
    "quoted_empty": b'id,name\r\n"6f1b6c1e-3c4d-4a5b-8c6d-7e8f9a0b1c2d",""\r\n',
}


@pytest.mark.parametrize("case", sorted(_EMPTY_LAST_FIELD))
def test_an_empty_last_field_is_null_exactly_when_copy_reads_null(
    engine: Engine, tmp_path: Path, case: str
) -> None:
    data = _EMPTY_LAST_FIELD[case]
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        assert raw is not None
        with raw.cursor() as cur:
            cur.execute("CREATE TEMP TABLE t (id text, name text)")
            with cur.copy("COPY t FROM STDIN (FORMAT csv, HEADER true)") as copy:
                copy.write(data)
            cur.execute("SELECT name IS NULL FROM t")
            copy_reads_null = cur.fetchone()[0]
        conn.rollback()
    path = tmp_path / "tag.csv"
    path.write_bytes(data)
    rules = set(validate(path).failures["rule"])
    # name is NOT NULL with a length CHECK: NULL breaks the first, "" the second.
    assert rules == ({"not_null"} if copy_reads_null else {"ck_tag_name_length"})
