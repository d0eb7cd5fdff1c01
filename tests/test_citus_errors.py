"""A row a Citus worker refuses is reported as on plain PostgreSQL: exit 1, file and line.

On a distributed schema, Citus raises a worker's COPY error again as an internal
error, with no constraint field, no line and shard-suffixed names
(``loading/worker_errors.py``). These tests need Citus built into Debian's
PostgreSQL 15; where it is not (CI), they skip and say so.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy.engine import Engine

import seedbed
from seedbed import migrate
from seedbed.config import Settings, load_settings
from seedbed.db import get_engine
from seedbed.errors import LoadError
from seedbed.loading.worker_errors import ShardNames
from tests.citus_cluster import CitusCluster
from tests.helpers import ROOT, counts, fresh_namespace, run_cli_here
from tests.load_helpers import (
    execute,
    file_rows,
    refused_by_a_foreign_key,
    user_rows,
    write_csv,
)

SEEDS = ROOT / "data" / "seeds"
SECRET = "vf_topsecret_value_42"
#: What a user gives: auto (on Citus, incremental below a size; see docs/citus.md).
AUTO = "auto"


@pytest.fixture
def cluster_settings(citus: CitusCluster, base_settings: Settings) -> Iterator[Settings]:
    """A migrated namespace on the cluster: a distributed schema on one worker."""
    settings = load_settings(
        schema=fresh_namespace("cerr"), database_url=citus.url, home=base_settings.home
    )
    migrate.upgrade_unchecked(settings)
    assert citus.placement(settings.schema) <= set(citus.workers)
    assert citus.placement(settings.schema)
    yield settings
    migrate.reset(settings)


@pytest.fixture
def cluster_engine(cluster_settings: Settings) -> Engine:
    return get_engine(cluster_settings)


@pytest.fixture
def seeds(tmp_path: Path) -> Path:
    return Path(shutil.copytree(SEEDS, tmp_path / "seeds"))


def _env(db_env: dict[str, str], settings: Settings) -> dict[str, str]:
    return {
        **db_env,
        "DATABASE_URL": settings.database_url or "",
        "SEEDBED_SCHEMA": settings.schema,
    }


def test_only_known_names_followed_by_their_own_shard_id_lose_the_suffix() -> None:
    names = ShardNames({"pk_tag_102052": "pk_tag", "tag_102052": "tag"}, {"pk_tag": "p"})
    text, found = names.unshard(
        'duplicate key value violates unique constraint "pk_tag_102052" '
        'on "tag_102052", not "pk_tag_102053" nor "tag_1020520"'
    )
    assert text == (
        'duplicate key value violates unique constraint "pk_tag" '
        'on "tag", not "pk_tag_102053" nor "tag_1020520"'
    )
    assert found == ["pk_tag", "tag"]


def test_keys_already_in_a_distributed_schema_are_listed_by_file_and_line(
    cluster_settings: Settings, cluster_engine: Engine, db_env: dict[str, str], tmp_path: Path
) -> None:
    env = _env(db_env, cluster_settings)
    first = run_cli_here("load", str(SEEDS), "--strategy", AUTO, "--quiet", env=env)
    assert first.returncode == 0, first.stderr
    before = counts(cluster_engine)
    failures = tmp_path / "failures.csv"
    again = run_cli_here(
        "load", str(SEEDS), "--strategy", AUTO, "--failures", str(failures), env=env
    )
    assert again.returncode == 1, again.stderr
    rows = sum(file_rows(path) for path in SEEDS.glob("*.csv"))
    assert f"{rows:,} rows are already in the database: load with --mode upsert" in again.stderr
    assert "nothing was loaded" in again.stderr
    assert "_1020" not in again.stderr  # no shard names
    taken = pd.read_csv(failures)
    assert taken["message"].str.contains("the database has").all()
    keyed = taken[taken["message"].str.startswith("already taken")]  # a key over every row
    assert len(keyed[["file", "line"]].drop_duplicates()) == rows
    lines = taken.groupby("table")["line"].agg(lambda found: set(found.astype(int)))
    assert lines.to_dict() == {
        path.stem: set(range(2, file_rows(path) + 2)) for path in SEEDS.glob("*.csv")
    }
    assert counts(cluster_engine) == before


def test_a_row_only_a_worker_refuses_names_its_file_line_and_constraint(
    cluster_engine: Engine, seeds: Path
) -> None:
    execute(
        cluster_engine,
        """ALTER TABLE "{schema}"."user" ADD CONSTRAINT ck_no_mallory CHECK (name <> 'Mallory')""",
    )
    header, rows = user_rows(seeds / "user.csv")
    rows[6][header.index("name")] = "Mallory"
    write_csv(seeds / "user.csv", header, rows)
    with pytest.raises(LoadError) as caught:
        seedbed.load(seeds, engine=cluster_engine, strategy=AUTO, progress=False)
    error = caught.value
    assert (error.table, error.line, error.constraint) == ("user", 8, "ck_no_mallory")
    assert error.file is not None and error.file.endswith("user.csv")
    assert str(error).endswith(
        "line 8: table 'user': new row for relation \"user\" violates check constraint "
        '"ck_no_mallory"'
    )
    assert set(counts(cluster_engine).values()) == {0}


def test_the_cli_gives_exit_1_and_the_line_for_a_row_a_worker_refuses(
    cluster_settings: Settings, cluster_engine: Engine, db_env: dict[str, str], seeds: Path
) -> None:
    execute(cluster_engine, 'ALTER TABLE "{schema}"."user" ALTER COLUMN image SET NOT NULL')
    header, rows = user_rows(seeds / "user.csv")
    rows[3][header.index("image")] = ""
    write_csv(seeds / "user.csv", header, rows)
    done = run_cli_here("load", str(seeds), "--strategy", AUTO, env=_env(db_env, cluster_settings))
    assert done.returncode == 1, done.stderr
    # the first empty image of the seed set is on line 2
    assert "user.csv, line 2, column 'image': table 'user': null value in column" in done.stderr
    assert "_1020" not in done.stderr
    assert set(counts(cluster_engine).values()) == {0}


def test_a_unique_conflict_only_a_worker_sees_is_mapped_to_its_line(
    cluster_engine: Engine, seeds: Path
) -> None:
    execute(cluster_engine, 'CREATE UNIQUE INDEX uq_user_name_extra ON "{schema}"."user" (name)')
    header, rows = user_rows(seeds / "user.csv")
    rows[9][header.index("name")] = rows[2][header.index("name")]
    write_csv(seeds / "user.csv", header, rows)
    with pytest.raises(LoadError) as caught:
        seedbed.load(seeds, engine=cluster_engine, strategy=AUTO, progress=False)
    assert (caught.value.constraint, caught.value.line) == ("uq_user_name_extra", 11)
    assert rows[2][header.index("name")] in str(caught.value)
    assert set(counts(cluster_engine).values()) == {0}


def test_a_foreign_key_a_worker_checks_is_found_by_its_key(
    cluster_engine: Engine, seeds: Path
) -> None:
    error = refused_by_a_foreign_key(cluster_engine, seeds, strategy=AUTO)
    assert "is not present in table 'user'" in str(error)


def test_a_deferred_foreign_key_a_worker_checks_at_commit_names_the_commit_and_the_row(
    cluster_engine: Engine, seeds: Path
) -> None:
    error = refused_by_a_foreign_key(cluster_engine, seeds, deferred=True, strategy="incremental")
    assert "_10" not in str(error)  # no shard names


def test_sensitive_values_a_worker_reports_stay_hidden(cluster_engine: Engine, seeds: Path) -> None:
    execute(
        cluster_engine,
        'CREATE UNIQUE INDEX uq_verification_value_extra ON "{schema}".verification (value)',
    )
    header, rows = user_rows(seeds / "verification.csv")
    rows[1][header.index("value")] = SECRET
    rows[3][header.index("value")] = SECRET
    write_csv(seeds / "verification.csv", header, rows)
    with pytest.raises(LoadError) as caught:
        seedbed.load(seeds, engine=cluster_engine, strategy=AUTO, progress=False)
    assert (caught.value.constraint, caught.value.line) == ("uq_verification_value_extra", 5)
    assert SECRET not in str(caught.value)
    assert "[redacted]" in str(caught.value)


def test_an_upsert_that_takes_another_rows_unique_name_on_a_worker_names_its_line(
    cluster_engine: Engine, tmp_path: Path
) -> None:
    seedbed.load(SEEDS, engine=cluster_engine, strategy=AUTO, progress=False)
    before = counts(cluster_engine)
    header, rows = user_rows(SEEDS / "tag.csv")
    clash = [
        ["11111111-1111-4111-8111-111111111111", "brand-new"],
        ["22222222-2222-4222-8222-222222222222", rows[3][header.index("name")]],
    ]
    path = write_csv(tmp_path / "tag.csv", header, clash)
    with pytest.raises(LoadError) as caught:
        seedbed.load([path], engine=cluster_engine, mode="upsert", progress=False)
    assert (caught.value.constraint, caught.value.line) == ("uq_tag_name", 3)
    assert '"uq_tag_name"' in str(caught.value) and "_1020" not in str(caught.value)
    assert counts(cluster_engine) == before


def test_a_row_a_worker_refuses_in_a_second_part_file_names_that_part(
    cluster_engine: Engine, tmp_path: Path
) -> None:
    execute(
        cluster_engine,
        """ALTER TABLE "{schema}"."user" ADD CONSTRAINT ck_no_mallory CHECK (name <> 'Mallory')""",
    )
    header, rows = user_rows(SEEDS / "user.csv")
    rows[13][header.index("name")] = "Mallory"
    write_csv(tmp_path / "user" / "part-0000.csv", header, rows[:10])
    write_csv(tmp_path / "user" / "part-0001.csv", header, rows[10:])
    with pytest.raises(LoadError) as caught:
        seedbed.load([tmp_path / "user"], engine=cluster_engine, strategy=AUTO, progress=False)
    error = caught.value
    assert error.file is not None and error.file.endswith("user/part-0001.csv")
    assert (error.line, error.constraint) == (5, "ck_no_mallory")
    assert set(counts(cluster_engine).values()) == {0}


def test_tables_kept_on_the_coordinator_report_a_refused_row_as_one_server_does(
    citus: CitusCluster, base_settings: Settings, seeds: Path
) -> None:
    # With schema-based sharding off for seedbed's sessions, the namespace stays an ordinary
    # schema on the coordinator. (Turning it off only while creating the schema is not
    # enough: Citus distributes an existing schema named by CREATE SCHEMA IF NOT EXISTS.)
    url = citus.url + "?options=-c%20citus.enable_schema_based_sharding%3Doff"
    schema = fresh_namespace("clocal")
    settings = load_settings(schema=schema, database_url=url, home=base_settings.home)
    migrate.upgrade_unchecked(settings)
    engine = get_engine(settings)
    try:
        assert citus.placement(schema) == set()
        execute(
            engine,
            """ALTER TABLE "{schema}"."user" ADD CONSTRAINT ck_no_mallory """
            """CHECK (name <> 'Mallory')""",
        )
        header, rows = user_rows(seeds / "user.csv")
        rows[6][header.index("name")] = "Mallory"
        write_csv(seeds / "user.csv", header, rows)
        with pytest.raises(LoadError) as caught:
            seedbed.load(seeds, engine=engine, progress=False)
        assert (caught.value.line, caught.value.constraint) == (8, "ck_no_mallory")
        assert set(counts(engine).values()) == {0}
    finally:
        migrate.reset(settings)
