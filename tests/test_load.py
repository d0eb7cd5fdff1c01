"""``seedbed.load``: validate, then COPY every table in one transaction; modes; errors."""

from __future__ import annotations

import importlib
import threading
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

import seedbed
from seedbed.config import load_settings
from seedbed.db import schema_of
from seedbed.errors import DatabaseError, DataError, LoadError, SeedError
from seedbed.loading import LoadResult
from seedbed.loading.modes import conflict_key
from seedbed.models import metadata_for
from seedbed.synthetic import generate_seed_set
from tests.helpers import counts, run_cli_here, snapshot
from tests.load_helpers import (
    execute,
    file_rows,
    refused_by_a_foreign_key,
    user_rows,
    wait_for,
    write_csv,
)

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "data" / "seeds"
SECRET = "vf_topsecret_value_42"


def test_load_seed_folder_inserts_every_table_in_fk_order(engine):
    result = seedbed.load(SEEDS, engine=engine)
    assert isinstance(result, LoadResult)
    assert result.committed
    expected = {path.stem: file_rows(path) for path in SEEDS.glob("*.csv")}
    assert result.inserted == expected
    assert counts(engine) == expected
    order = [t.table for t in result.tables]
    assert order.index("user") < order.index("session") < order.index("post_tag")
    assert order.index("post") < order.index("post_tag")


def test_result_prints_a_table_and_renders_html(engine):
    result = seedbed.load(SEEDS, engine=engine)
    text = str(result)
    assert "inserted" in text and "user" in text and "loaded" in text
    html = result._repr_html_()
    assert html.startswith("<table>") and "<script" not in html
    frame = result.to_frame()
    assert list(frame["table"]) == [t.table for t in result.tables]
    assert result.total_seconds >= result.write_seconds > 0


def test_dry_run_reports_and_writes_nothing(engine):
    result = seedbed.load(SEEDS, engine=engine, dry_run=True)
    assert not result.committed
    assert result.inserted["user"] == file_rows(SEEDS / "user.csv")
    assert "rolled back" in str(result)
    assert set(counts(engine).values()) == {0}


def test_a_folder_with_one_invalid_file_writes_nothing(engine, seeds):
    header, rows = user_rows(seeds / "post.csv")
    rows[3][header.index("slug")] = "Not A Slug"
    write_csv(seeds / "post.csv", header, rows)
    before = snapshot(engine)
    with pytest.raises(DataError) as caught:
        seedbed.load(seeds, engine=engine)
    assert not isinstance(caught.value, LoadError)
    failures = caught.value.report.failures
    assert list(failures["table"].unique()) == ["post"]
    assert 5 in set(failures["line"])
    assert snapshot(engine) == before


def test_generated_invalid_rows_are_reported_and_nothing_is_written(engine, tmp_path):
    generate_seed_set(300, tmp_path, seed=8, invalid_fraction=0.05)
    with pytest.raises(DataError) as caught:
        seedbed.load(tmp_path, engine=engine)
    assert len(caught.value.report.failures) > 10
    assert set(counts(engine).values()) == {0}


def test_a_row_only_the_database_refuses_names_file_line_and_constraint(engine, seeds):
    # A constraint the models do not know: only PostgreSQL can refuse the row.
    execute(
        engine,
        """ALTER TABLE "{schema}"."user" ADD CONSTRAINT ck_no_mallory CHECK (name <> 'Mallory')""",
    )
    header, rows = user_rows(seeds / "user.csv")
    rows[6][header.index("name")] = "Mallory"
    write_csv(seeds / "user.csv", header, rows)
    before = snapshot(engine)
    with pytest.raises(LoadError) as caught:
        seedbed.load(seeds, engine=engine)
    error = caught.value
    assert (error.table, error.line, error.constraint) == ("user", 8, "ck_no_mallory")
    assert error.file is not None and error.file.endswith("user.csv")
    assert "line 8" in str(error) and "ck_no_mallory" in str(error)
    assert snapshot(engine) == before


def test_line_of_a_refused_row_counts_quoted_newlines(engine, tmp_path):
    execute(
        engine,
        """ALTER TABLE "{schema}"."user" ADD CONSTRAINT ck_no_mallory CHECK (name <> 'Mallory')""",
    )
    header, rows = user_rows(SEEDS / "user.csv")
    rows[0][header.index("name")] = "two\nlines"
    rows[1][header.index("name")] = "three\r\nphysical\nlines"
    rows[2][header.index("name")] = "Mallory"
    path = write_csv(tmp_path / "user.csv", header, rows[:5])
    with pytest.raises(LoadError) as caught:
        seedbed.load([path], engine=engine)
    # header 1, row one on 2-3, row two on 4-6, Mallory on 7
    assert caught.value.line == 7


def test_a_unique_conflict_only_the_database_sees_is_mapped_to_its_line(engine, seeds):
    execute(engine, 'CREATE UNIQUE INDEX uq_user_name_extra ON "{schema}"."user" (name)')
    header, rows = user_rows(seeds / "user.csv")
    rows[9][header.index("name")] = rows[2][header.index("name")]
    write_csv(seeds / "user.csv", header, rows)
    with pytest.raises(LoadError) as caught:
        seedbed.load(seeds, engine=engine)
    assert caught.value.constraint == "uq_user_name_extra"
    assert caught.value.line == 11
    assert rows[2][header.index("name")] in str(caught.value)
    assert set(counts(engine).values()) == {0}


def test_a_foreign_key_only_the_database_checks_is_found_by_its_key(engine, seeds):
    refused_by_a_foreign_key(engine, seeds)


def test_a_deferred_foreign_key_refused_at_commit_names_the_commit_and_the_row(engine, seeds):
    refused_by_a_foreign_key(engine, seeds, deferred=True, strategy="incremental")


def test_sensitive_values_never_appear_in_database_errors(engine, seeds):
    execute(
        engine, 'CREATE UNIQUE INDEX uq_verification_value_extra ON "{schema}".verification (value)'
    )
    execute(
        engine,
        'ALTER TABLE "{schema}".verification ADD CONSTRAINT ck_no_secret '
        f"CHECK (value <> '{SECRET}x')",
    )
    header, rows = user_rows(seeds / "verification.csv")
    rows[1][header.index("value")] = SECRET
    rows[3][header.index("value")] = SECRET
    write_csv(seeds / "verification.csv", header, rows)
    with pytest.raises(LoadError) as caught:
        seedbed.load(seeds, engine=engine)
    assert caught.value.constraint == "uq_verification_value_extra"
    assert caught.value.line == 5
    assert SECRET not in str(caught.value)
    assert "[redacted]" in str(caught.value)

    rows[3][header.index("value")] = SECRET + "x"
    write_csv(seeds / "verification.csv", header, rows)
    with pytest.raises(LoadError) as caught:
        seedbed.load(seeds, engine=engine)
    assert caught.value.constraint == "ck_no_secret"
    assert SECRET not in str(caught.value)


def test_insert_of_rows_already_there_is_refused_and_changes_nothing(engine):
    seedbed.load(SEEDS, engine=engine)
    before = snapshot(engine)
    with pytest.raises(DataError):
        seedbed.load(SEEDS, engine=engine)
    assert snapshot(engine) == before


def test_upsert_inserts_new_updates_changed_and_twice_changes_nothing(engine, seeds):
    header, rows = user_rows(seeds / "user.csv")
    seedbed.load([write_csv(seeds / "first" / "user.csv", header, rows[:30])], engine=engine)
    for row in rows[:5]:
        row[header.index("name")] += " (renamed)"
    path = write_csv(seeds / "second" / "user.csv", header, rows)

    first = seedbed.load([path], engine=engine, mode="upsert")
    assert (first.inserted["user"], first.updated["user"], first.skipped["user"]) == (
        len(rows) - 30,
        5,
        25,
    )
    schema = schema_of(engine)
    stamps = f'SELECT id, name, updated_at FROM "{schema}"."user" ORDER BY id'
    with engine.connect() as conn:
        state = conn.execute(sa.text(stamps)).all()
    assert sum("(renamed)" in (r.name or "") for r in state) == 5

    again = seedbed.load([path], engine=engine, mode="upsert")
    assert (again.inserted["user"], again.updated["user"], again.skipped["user"]) == (
        0,
        0,
        len(rows),
    )
    with engine.connect() as conn:
        assert conn.execute(sa.text(stamps)).all() == state


def test_upsert_of_a_whole_folder_twice_is_idempotent(engine):
    seedbed.load(SEEDS, engine=engine, mode="upsert")
    before = snapshot(engine)
    result = seedbed.load(SEEDS, engine=engine, mode="upsert")
    assert sum(result.inserted.values()) == sum(result.updated.values()) == 0
    assert snapshot(engine) == before


def test_skip_existing_inserts_only_new_rows(engine, seeds):
    header, rows = user_rows(seeds / "user.csv")
    seedbed.load([write_csv(seeds / "first" / "user.csv", header, rows[:10])], engine=engine)
    before = snapshot(engine)["user"]
    for row in rows[:10]:
        row[header.index("name")] = "changed"
    result = seedbed.load(
        [write_csv(seeds / "second" / "user.csv", header, rows)],
        engine=engine,
        mode="skip-existing",
    )
    assert (result.inserted["user"], result.updated["user"], result.skipped["user"]) == (
        len(rows) - 10,
        0,
        10,
    )
    with engine.connect() as conn:
        changed = conn.execute(
            sa.text(f"""SELECT count(*) FROM "{schema_of(engine)}"."user" WHERE name = 'changed'""")
        ).scalar_one()
    assert changed == 0
    assert snapshot(engine)["user"] != before


def test_conflict_key_is_the_primary_key_else_a_declared_unique_key():
    tables = metadata_for("seedbed").tables
    tag, account, post_tag = (tables[f"seedbed.{n}"] for n in ("tag", "account", "post_tag"))
    assert conflict_key(tag, ["id", "name"]) == ("id",)
    assert conflict_key(tag, ["name"]) == ("name",)
    assert conflict_key(account, ["provider_id", "account_id", "user_id"]) == (
        "provider_id",
        "account_id",
    )
    assert conflict_key(post_tag, ["tag_id", "post_id"]) == ("post_id", "tag_id")
    with pytest.raises(SeedError, match="cannot upsert or skip existing rows without a key"):
        conflict_key(post_tag, ["post_id"])


def test_unknown_mode_is_a_usage_error(engine):
    with pytest.raises(SeedError, match="unknown load mode"):
        seedbed.load(SEEDS, engine=engine, mode="merge")


def test_dataframes_load_with_their_types(engine):
    users = pd.DataFrame(
        {
            "id": ["0b7c1e1a-2f3d-4a5b-8c6d-7e8f9a0b1c2d", "1b7c1e1a-2f3d-4a5b-9c6d-7e8f9a0b1c2d"],
            "email": ["a@example.com", "b@example.com"],
            "name": ["A, with comma", 'B "quoted"\nand a newline'],
            "email_verified": [True, False],
            "created_at": pd.to_datetime(["2024-01-01T10:00:00Z", "2024-02-01T10:00:00Z"]),
        }
    )
    posts = pd.DataFrame(
        {
            "id": ["2b7c1e1a-2f3d-4a5b-8c6d-7e8f9a0b1c2d"],
            "author_id": [users["id"][0]],
            "title": ["Hello"],
            "slug": ["hello"],
            "status": ["draft"],
            "metadata": [{"tags": ["x"], "reading_minutes": 3}],
        }
    )
    result = seedbed.load({"user": users, "post": posts}, engine=engine)
    assert result.inserted == {"user": 2, "post": 1}
    schema = schema_of(engine)
    with engine.connect() as conn:
        names = conn.execute(
            sa.text(f'SELECT name FROM "{schema}"."user" ORDER BY email')
        ).scalars()
        assert list(names) == ["A, with comma", 'B "quoted"\nand a newline']
        meta = conn.execute(sa.text(f'SELECT metadata FROM "{schema}".post')).scalar_one()
        assert meta == {"tags": ["x"], "reading_minutes": 3}


def test_numbers_in_a_dataframe_text_column_load_as_their_text(engine):
    users = pd.DataFrame(
        {
            "id": ["3b7c1e1a-2f3d-4a5b-8c6d-7e8f9a0b1c2d", "4b7c1e1a-2f3d-4a5b-9c6d-7e8f9a0b1c2d"],
            "email": ["n1@example.com", "n2@example.com"],
            "name": [7, 12345678901234567],  # pandas' int64, as read_csv gives digits
            "email_verified": [True, False],
        }
    )
    assert seedbed.load({"user": users}, engine=engine).inserted == {"user": 2}
    with engine.connect() as conn:
        names = conn.execute(
            sa.text(f'SELECT name FROM "{schema_of(engine)}"."user" ORDER BY email')
        ).scalars()
        assert list(names) == ["7", "12345678901234567"]


def test_a_dataframe_row_only_the_database_refuses_is_named_by_position(engine):
    execute(
        engine,
        """ALTER TABLE "{schema}"."user" ADD CONSTRAINT ck_no_mallory CHECK (name <> 'Mallory')""",
    )
    users = pd.DataFrame(
        {
            "id": [f"{i}b7c1e1a-2f3d-4a5b-8c6d-7e8f9a0b1c2d" for i in range(3)],
            "email": [f"{i}@example.com" for i in range(3)],
            "name": ["ok", "ok", "Mallory"],
        }
    )
    with pytest.raises(LoadError) as caught:
        seedbed.load({"user": users}, engine=engine)
    assert caught.value.line == 2
    assert counts(engine)["user"] == 0


def test_a_dataframe_row_with_a_key_only_the_database_checks_is_named_by_position(engine):
    execute(engine, 'CREATE UNIQUE INDEX uq_user_name_extra ON "{schema}"."user" (name)')
    users = pd.DataFrame(
        {
            "id": [f"{i}b7c1e1a-2f3d-4a5b-8c6d-7e8f9a0b1c2d" for i in range(4)],
            "email": [f"{i}@example.com" for i in range(4)],
            "name": ["a", "b", "c", "b"],
        }
    )
    with pytest.raises(LoadError) as caught:
        seedbed.load({"user": users}, engine=engine)
    assert (caught.value.line, caught.value.constraint) == (3, "uq_user_name_extra")
    assert "row 3" in str(caught.value)


def test_parquet_files_load(engine, tmp_path):
    frame = pd.read_csv(SEEDS / "user.csv")
    frame.to_parquet(tmp_path / "user.parquet")
    result = seedbed.load([tmp_path / "user.parquet"], engine=engine)
    assert result.inserted == {"user": len(frame)}


def test_permission_denied_is_a_database_error(engine, settings):
    schema = schema_of(engine)
    role = f"ro_{schema}"[:60]
    execute(engine, f'CREATE ROLE "{role}" LOGIN')
    execute(engine, f'GRANT USAGE ON SCHEMA "{{schema}}" TO "{role}"')
    execute(engine, f'GRANT SELECT ON ALL TABLES IN SCHEMA "{{schema}}" TO "{role}"')
    url = engine.url.set(username=role).render_as_string(hide_password=False)
    limited = seedbed.get_engine(load_settings(schema=schema, database_url=url, home=settings.home))
    try:
        with pytest.raises(DatabaseError, match="permission denied") as caught:
            seedbed.load(SEEDS, engine=limited)
        assert "permission denied for table" in str(caught.value)
        assert ".csv" in str(caught.value)
    finally:
        limited.dispose()
        execute(engine, f'DROP OWNED BY "{role}"; DROP ROLE "{role}"')


# -- the CLI -----------------------------------------------------------------


@pytest.fixture
def cli_env(db_env, settings) -> dict[str, str]:
    return dict(db_env, SEEDBED_SCHEMA=settings.schema)


def test_cli_load_prints_counts_and_quiet_prints_nothing(cli_env, engine):
    done = run_cli_here("load", str(SEEDS), "--dry-run", env=cli_env)
    assert done.returncode == 0, done.stderr
    assert "user" in done.stdout and "rolled back" in done.stdout
    # no progress bars when stderr is not a terminal: only the line naming the database
    assert done.stderr.startswith("using ") and len(done.stderr.splitlines()) == 1
    assert set(counts(engine).values()) == {0}

    done = run_cli_here("load", str(SEEDS), "--quiet", env=cli_env)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "" and done.stderr == ""
    assert counts(engine)["user"] == file_rows(SEEDS / "user.csv")

    done = run_cli_here("load", str(SEEDS), "--mode", "upsert", env=cli_env)
    assert done.returncode == 0, done.stderr
    assert "upsert" in done.stdout


def test_cli_invalid_folder_exits_1_with_the_report_and_no_traceback(cli_env, engine, seeds):
    header, rows = user_rows(seeds / "user.csv")
    rows[0][header.index("email")] = "not-an-email"
    write_csv(seeds / "user.csv", header, rows)
    done = run_cli_here("load", str(seeds), env=cli_env)
    assert done.returncode == 1
    assert "user.csv" in done.stderr and "ck_user_email_format" in done.stderr
    assert "Traceback" not in done.stderr
    assert set(counts(engine).values()) == {0}


def test_cli_database_refusal_exits_1_with_one_line(cli_env, engine, seeds):
    execute(
        engine,
        """ALTER TABLE "{schema}"."user" ADD CONSTRAINT ck_no_mallory CHECK (name <> 'Mallory')""",
    )
    header, rows = user_rows(seeds / "user.csv")
    rows[0][header.index("name")] = "Mallory"
    write_csv(seeds / "user.csv", header, rows)
    done = run_cli_here("load", str(seeds), env=cli_env)
    assert done.returncode == 1
    assert "line 2" in done.stderr and "ck_no_mallory" in done.stderr
    assert "Traceback" not in done.stderr and "psycopg" not in done.stderr


def test_cli_loads_several_files_given_by_name(cli_env, engine):
    done = run_cli_here(
        "load", str(SEEDS / "user.csv"), str(SEEDS / "tag.csv"), "--quiet", env=cli_env
    )
    assert done.returncode == 0, done.stderr
    loaded = counts(engine)
    assert loaded["user"] == file_rows(SEEDS / "user.csv")
    assert loaded["tag"] == file_rows(SEEDS / "tag.csv")
    assert loaded["session"] == 0


def test_cli_missing_path_exits_2(cli_env, tmp_path):
    done = run_cli_here("load", str(tmp_path / "nope"), env=cli_env)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr


# -- progress ----------------------------------------------------------------


def test_progress_is_silent_when_output_is_not_a_terminal(engine, capsys):
    seedbed.load(SEEDS, engine=engine)  # pytest captures stderr: not a terminal
    assert capsys.readouterr().err == ""


# -- the writer's head start ---------------------------------------------------------


def _record_order(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What happens first: ``copy`` (a COPY statement is made) or ``validate``.

    The head start is made long, so the order is the rule's, not the clock's.
    """
    loader = importlib.import_module("seedbed.loading.load")
    writer = importlib.import_module("seedbed.loading.writer")
    monkeypatch.setattr(loader, "COPY_HEAD_START", 600.0)
    events: list[str] = []
    copy_sql, validate = writer.copy_sql, loader._validate

    def made(*args, **kwargs):
        events.append("copy")
        return copy_sql(*args, **kwargs)

    def validating(*args, **kwargs):
        events.append("validate")
        return validate(*args, **kwargs)

    monkeypatch.setattr(writer, "copy_sql", made)
    monkeypatch.setattr(loader, "_validate", validating)
    return events


def test_validation_starts_once_the_first_copy_is_sent(engine, monkeypatch):
    events = _record_order(monkeypatch)
    seedbed.load(SEEDS, engine=engine, progress=False)
    # Validation never starts first; the writer may send more COPYs before it wakes.
    assert events[0] == "copy" and "validate" in events
    assert counts(engine)["user"] == file_rows(SEEDS / "user.csv")


def test_validation_goes_ahead_while_the_writer_waits_for_a_lock(engine, monkeypatch):
    events = _record_order(monkeypatch)
    reader = engine.connect()
    reader.exec_driver_sql(f'SELECT count(*) FROM "{schema_of(engine)}".post')  # ACCESS SHARE
    failed: list[BaseException] = []

    def run() -> None:
        try:
            seedbed.load(SEEDS, engine=engine, progress=False)
        except BaseException as exc:  # handed to the test
            failed.append(exc)

    loading = threading.Thread(target=run)
    loading.start()
    try:
        wait_for(lambda: "validate" in events, what="validation while the writer waits")
        assert "copy" not in events  # the rebuild locks every table before its first COPY
    finally:
        reader.rollback()
        reader.close()
        loading.join(120)
    assert not failed
    assert counts(engine)["post"] == file_rows(SEEDS / "post.csv")
