"""The synthetic generator: every table of the model, valid, skewed, deterministic, loadable."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.dialects.postgresql import INET, JSONB
from sqlalchemy.engine import Engine

import seedbed
from seedbed import migrate
from seedbed.config import Settings
from seedbed.db import get_engine, schema_of
from seedbed.errors import GenerateError
from seedbed.facts import ordered_tables, table_spec
from seedbed.models import metadata, metadata_for, rules
from seedbed.synthetic import (
    SYNTHETIC_DOMAIN,
    generate_seed_set,
    generate_tables,
    generate_typed_tables,
    uuid4_strings,
)
from tests.helpers import ROOT, counts, fresh_namespace, fresh_settings, run_cli_here

SEEDS = ROOT / "data" / "seeds"
STAMP = sa.DateTime(timezone=True)


REVIEW_RULES = (
    rules.uuid_v4("id"),
    rules.Matches("code_format", ("code",), "three letters, dash, 4 digits", r"[A-Z]{3}-[0-9]{4}"),
    rules.length("code", 8, 8),
    rules.email("contact"),
    rules.url("homepage"),
    rules.later("ends_on", "starts_on"),
    rules.later("closed_at", "created_at"),
    rules.required_when("closed_at", "state", "seen"),
    rules.JsonShape(
        "details_shape",
        ("details",),
        "tags and a count",
        keys={
            "tags": rules.JsonKey("string_list", "a list of strings"),
            "count": rules.JsonKey("non_negative_integer", "an integer of at least 0"),
        },
    ),
)


def with_review(schema: str) -> sa.MetaData:
    """The model in ``schema`` plus a ``review`` table no recipe knows about.

    ``user`` also gains a column with a rule that its recipe does not know.
    """
    model = metadata_for(schema)
    if "review" in {t.name for t in model.sorted_tables}:
        return model
    user = model.tables[f"{schema}.user"]
    user.append_column(sa.Column("website", sa.Text))
    user.append_constraint(rules.url("website").constraint())
    sa.Table(
        "review",
        model,
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("user_id", sa.ForeignKey("user.id", ondelete="CASCADE"), nullable=False),
        sa.Column("post_id", sa.ForeignKey("post.id", ondelete="CASCADE")),
        sa.Column("code", sa.Text, nullable=False, unique=True),
        sa.Column("contact", sa.Text),
        sa.Column("homepage", sa.Text),
        sa.Column("stars", sa.SmallInteger, nullable=False),
        sa.Column("score", sa.Numeric(5, 2)),
        sa.Column("state", sa.Enum("new", "seen", name="review_state"), nullable=False),
        sa.Column("starts_on", sa.Date, nullable=False),
        sa.Column("ends_on", sa.Date),
        sa.Column("closed_at", sa.DateTime(timezone=True)),
        sa.Column("details", JSONB),
        sa.Column("ip", INET),
        sa.Column("flagged", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("deleted_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", STAMP, nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", STAMP, nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint("user_id", "post_id"),
        sa.Index(
            "uq_review_contact_live",
            "contact",
            unique=True,
            postgresql_where=sa.text("deleted_at IS NULL"),
        ),
        *rules.checks(*REVIEW_RULES),
    )
    return model


def problems(tables: dict[str, pa.Table], model: sa.MetaData) -> list[str]:
    """Every broken rule, NOT NULL, unique key and foreign key in typed generated tables."""
    found: list[str] = []
    frames = {name: table.to_pandas() for name, table in tables.items()}
    for table in model.sorted_tables:
        spec, frame = table_spec(table), frames[table.name]
        for column in spec.columns.values():
            if column.required and column.name not in frame:
                found.append(f"{table.name}.{column.name} is missing")
            elif not column.nullable and column.name in frame and frame[column.name].isna().any():
                found.append(f"{table.name}.{column.name} has NULLs")
        for ruled in spec.rules:
            if set(ruled.rule.columns) <= set(frame) and not ruled.rule.passes(frame).all():
                found.append(f"{ruled.name} fails")
        for key in spec.unique_keys:
            rows = frame.dropna(subset=list(key.columns))
            for column in key.where_null:
                rows = rows[rows[column].isna()] if column in rows else rows
            if rows.duplicated(subset=list(key.columns)).any():
                found.append(f"{key.name} repeats")
        for fk in spec.foreign_keys:
            child = frame[list(fk.columns)].dropna()
            parent = frames[fk.parent.name][list(fk.parent_columns)]
            keys = set(parent.itertuples(index=False, name=None))
            if not all(row in keys for row in child.itertuples(index=False, name=None)):
                found.append(f"{fk.name} dangles")
    return found


def children_per_parent(tables: dict[str, pa.Table], child: str, column: str) -> pd.Series:
    users = tables["user"].column("id").to_pandas()
    counts = tables[child].column(column).to_pandas().value_counts()
    return counts.reindex(users, fill_value=0)


# Generation: every table, valid rows


def test_every_table_of_the_model_gets_rows():
    tables = generate_tables(300, seed=1)
    assert list(tables) == [t.name for t in ordered_tables(metadata)]  # the model's one order
    for table in ordered_tables(metadata):
        assert tables[table.name].num_rows > 0, table.name
        required = {c.name for c in table_spec(table).columns.values() if c.required}
        assert required <= set(tables[table.name].column_names), table.name


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(users=st.integers(min_value=0, max_value=400), seed=st.integers(0, 2**32 - 1))
def test_generated_rows_keep_every_rule_key_and_reference(users: int, seed: int):
    assert problems(generate_typed_tables(users, seed), metadata) == []


def test_row_counts_keep_their_proportions_to_users():
    counts = {name: t.num_rows for name, t in generate_tables(4000, seed=3).items()}
    assert counts["user"] == 4000
    assert counts["session"] == 8000
    assert counts["account"] == 4000
    assert counts["verification"] == 800
    assert counts["post"] == 2000
    assert counts["tag"] == 20
    assert 1.6 * counts["post"] < counts["post_tag"] <= 2.0 * counts["post"]


def test_children_per_user_are_skewed_some_many_some_none():
    tables = generate_tables(5000, seed=9)
    for child, column, mean in (("session", "user_id", 2.0), ("post", "author_id", 0.5)):
        per_user = children_per_parent(tables, child, column)
        assert per_user.mean() == pytest.approx(mean)
        assert (per_user == 0).mean() > 0.25, child
        assert per_user.max() >= 10 * mean, child
    sessions = children_per_parent(tables, "session", "user_id")
    posts = children_per_parent(tables, "post", "author_id")
    assert np.corrcoef(sessions, posts)[0, 1] > 0.3  # the same users are active in both


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    generate_seed_set(300, tmp_path / "a", seed=5)
    generate_seed_set(300, tmp_path / "b", seed=5)
    generate_seed_set(300, tmp_path / "c", seed=6)
    for table in metadata.sorted_tables:
        a = (tmp_path / "a" / f"{table.name}.csv").read_bytes()
        assert a == (tmp_path / "b" / f"{table.name}.csv").read_bytes()
        assert a != (tmp_path / "c" / f"{table.name}.csv").read_bytes()


def test_uuids_are_version_4_and_unique():
    ids = uuid4_strings(np.random.default_rng(0), 5000).to_pylist()
    assert len(set(ids)) == 5000
    assert all(len(i) == 36 and i[14] == "4" and i[19] in "89ab" for i in ids)


def test_unique_values_differ_from_the_repository_seeds():
    tables = generate_tables(2000, seed=0)
    for table in metadata.sorted_tables:
        seeds = pd.read_csv(SEEDS / f"{table.name}.csv", dtype=str)
        for key in table_spec(table).unique_keys:
            ours = tables[table.name].select(list(key.columns)).to_pandas().astype(str)
            both = ours.merge(seeds[list(key.columns)], how="inner")
            assert both.empty, key.name
    assert pc.all(pc.ends_with(tables["user"].column("email"), f"@{SYNTHETIC_DOMAIN}")).as_py()


# The generic generator: a table nobody wrote a recipe for


def test_zero_users_give_valid_empty_children():
    model = with_review(fresh_namespace("gen"))
    tables = generate_typed_tables(0, metadata=model)
    assert problems(tables, model) == []
    assert {name for name, table in tables.items() if table.num_rows} == {"tag"}


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_a_table_without_a_recipe_gets_valid_rows(seed: int):
    model = with_review(fresh_namespace("gen"))
    tables = generate_typed_tables(200, seed, metadata=model)
    review = tables["review"]
    assert review.num_rows > 150
    assert problems(tables, model) == []
    assert set(review.column("state").to_pylist()) == {"new", "seen"}
    assert pc.count(review.column("closed_at")).as_py() > 0
    assert "updated_at" not in review.column_names  # computed by the database
    assert "created_at" in review.column_names  # a rule needs it
    websites = tables["user"].column("website")
    assert 0 < pc.count(websites).as_py() < len(websites)  # drafted for a recipe table, some NULL


def test_a_self_reference_points_at_rows_of_the_same_table():
    model = sa.MetaData(schema="x")
    sa.Table(
        "category",
        model,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("parent_id", sa.ForeignKey("category.id")),
        sa.Column("name", sa.String(20), nullable=False, unique=True),
    )
    categories = generate_typed_tables(4000, metadata=model)
    assert problems(categories, model) == []
    assert pc.count(categories["category"].column("parent_id")).as_py() > 0


def test_a_pattern_it_cannot_sample_is_refused_naming_the_rule():
    model = sa.MetaData(schema="x")
    sa.Table(
        "odd",
        model,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("code", sa.Text, nullable=False),
        *rules.checks(rules.Matches("code_lookahead", ("code",), "odd", r"(?=a)a+")),
    )
    with pytest.raises(GenerateError, match="code_lookahead"):
        generate_tables(10, metadata=model)


def test_a_simple_pattern_is_sampled():
    model = sa.MetaData(schema="x")
    sa.Table(
        "plate",
        model,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("number", sa.Text, nullable=False, unique=True),
        *rules.checks(
            rules.Matches("number_format", ("number",), "a plate", r"(AB|CD)-[0-9]{2,4}[a-z]?")
        ),
    )
    plates = generate_typed_tables(10_000, metadata=model)["plate"]  # a lookup table: 50 rows
    assert plates.num_rows > 40
    assert problems({"plate": plates}, model) == []


@pytest.fixture
def review_namespace(base_settings: Settings) -> Iterator[tuple[Engine, sa.MetaData]]:
    """A namespace created from the model plus ``review`` with ``create_all``."""
    settings = fresh_settings(base_settings, "gen")
    model = with_review(settings.schema)
    engine = get_engine(settings)
    with engine.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{settings.schema}"')  # before its enum types
        model.create_all(connection)
    yield engine, model
    migrate.reset(settings)


def test_a_set_with_a_new_table_validates_and_loads(review_namespace, tmp_path):
    engine, model = review_namespace
    written = generate_seed_set(150, tmp_path, seed=4, metadata=model)
    assert (tmp_path / "review.csv").exists()
    report = seedbed.validate(tmp_path, engine=engine)
    assert report.ok, report
    result = seedbed.load(tmp_path, engine=engine, progress=False)
    assert result.to_frame().set_index("table")["inserted"].to_dict() == written
    assert counts(engine) == written


# Against PostgreSQL


def test_generated_set_validates_and_loads(engine, tmp_path):
    written = generate_seed_set(500, tmp_path, seed=11)
    assert seedbed.validate(tmp_path).ok
    result = seedbed.load(tmp_path, engine=engine, progress=False)
    assert result.to_frame().set_index("table")["inserted"].to_dict() == written
    assert counts(engine) == written


def test_generated_set_loads_on_top_of_the_quickstart_seeds(settings, tmp_path, db_env):
    env = {**db_env, "SEEDBED_SCHEMA": settings.schema}
    for seed in (0, 1):
        generate_seed_set(300, tmp_path / str(seed), seed=seed)
    assert run_cli_here("load", "data/seeds", "--quiet", env=env).returncode == 0
    dry_run = run_cli_here("load", str(tmp_path / "1"), "--dry-run", "--quiet", env=env)
    assert dry_run.returncode == 0, dry_run.stdout + dry_run.stderr
    done = run_cli_here("load", str(tmp_path / "0"), env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "300" in done.stdout


# Broken on purpose


def test_invalid_fraction_breaks_about_that_many_rows_and_keeps_the_rest():
    clean = generate_tables(2000, seed=4)
    broken = generate_tables(2000, seed=4, invalid_fraction=0.1)
    for name in ("user", "session", "post"):
        a, b = clean[name], broken[name]
        differs = sum(1 for x, y in zip(a.to_pylist(), b.to_pylist(), strict=True) if x != y)
        assert 0.05 * a.num_rows < differs < 0.15 * a.num_rows, name
    emails = broken["user"].column("email")
    assert pc.sum(pc.match_substring(emails, " at ")).as_py() > 0


def test_a_table_without_a_recipe_is_broken_too():
    model = with_review(fresh_namespace("gen"))
    broken = generate_tables(300, seed=2, invalid_fraction=0.3, metadata=model)["review"]
    assert pc.sum(pc.is_null(broken.column("code"))).as_py() > 0


def test_broken_rows_are_refused_by_postgres(engine, tmp_path):
    generate_seed_set(200, tmp_path, seed=2, invalid_fraction=0.5)
    schema = schema_of(engine)
    raw = engine.raw_connection()
    try:
        with pytest.raises(psycopg.errors.IntegrityError), raw.cursor() as cursor:
            for table in metadata.sorted_tables:
                path = tmp_path / f"{table.name}.csv"
                header = path.read_text().splitlines()[0]
                sql = f'COPY "{schema}"."{table.name}" ({header}) FROM STDIN (FORMAT csv, HEADER)'
                with cursor.copy(sql) as copy:
                    copy.write(path.read_bytes())
    finally:
        raw.close()


# CLI


def test_generate_cli_accepts_both_argument_orders(tmp_path, db_env):
    for args in (["--users", "40", str(tmp_path / "a")], [str(tmp_path / "b"), "--users", "40"]):
        done = run_cli_here("generate", *args, "--seed", "1", env=db_env)
        assert done.returncode == 0, done.stderr
        assert "user" in done.stdout
    with (tmp_path / "a" / "user.csv").open() as handle:
        assert sum(1 for _ in csv.reader(handle)) == 41
    assert (tmp_path / "a" / "user.csv").read_bytes() == (tmp_path / "b" / "user.csv").read_bytes()


def test_generate_cli_refuses_a_fraction_above_one(tmp_path, db_env):
    done = run_cli_here(
        "generate", str(tmp_path), "--users", "5", "--invalid-fraction", "1.5", env=db_env
    )
    assert done.returncode == 2
    assert "invalid_fraction" in done.stderr or "invalid-fraction" in done.stderr
    assert "Traceback" not in done.stderr


def test_generate_cli_refuses_negative_users(tmp_path: Path, db_env):
    done = run_cli_here("generate", str(tmp_path), "--users", "-1", env=db_env)
    assert done.returncode == 2
    assert "--users" in done.stderr
    assert "Traceback" not in done.stderr


SHOP_MODELS = {
    "base.py": "from seedbed.models import new_base\n\nBase = new_base()\n",
    "store.py": """
import sqlalchemy as sa
from .base import Base

store = sa.Table(
    "store", Base.metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.Text, nullable=False, unique=True),
)
color = sa.Table(
    "color", Base.metadata,
    sa.Column("code", sa.Text, primary_key=True),
    sa.Column("parent", sa.Text, sa.ForeignKey("color.code")),
)
item = sa.Table(
    "item", Base.metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("store_id", sa.Integer, sa.ForeignKey("store.id"), nullable=False),
    sa.Column("color", sa.Text, sa.ForeignKey("color.code")),
    sa.Column("price", sa.Integer, sa.CheckConstraint("price >= 0", name="price_positive")),
)
""",
}


def test_rows_sizes_each_table_without_a_parent_in_a_model_without_users(
    base_settings, db_env, tmp_path
):
    folder = tmp_path / "shop_models"
    folder.mkdir()
    for name, source in SHOP_MODELS.items():
        (folder / name).write_text(source)
    settings = fresh_settings(base_settings, "rows")
    env = {**db_env, "SEEDBED_SCHEMA": settings.schema, "SEEDBED_MODELS": str(folder)}
    try:
        assert run_cli_here("-q", "db", "push", env=env).returncode == 0
        out = tmp_path / "out"
        done = run_cli_here("generate", str(out), "--rows", "30", "--seed", "3", env=env)
        assert done.returncode == 0, done.stderr
        rows = {p.stem: len(pd.read_csv(p)) for p in out.glob("*.csv")}
        assert rows["store"] == rows["color"] == 30  # roots, a self-reference included
        assert 0 < rows["item"] <= 30  # one per root row, as per user with --users
        loaded = run_cli_here("-q", "load", str(out), env=env)
        assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    finally:
        migrate.reset(settings)


def test_generate_cli_takes_users_or_rows_not_both(tmp_path, db_env):
    done = run_cli_here("generate", str(tmp_path), "--users", "5", "--rows", "5", env=db_env)
    assert done.returncode == 2 and "not allowed with" in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_rows_fills_a_pulled_model_and_the_database_as_model_alike(base_settings, db_env, tmp_path):
    settings = fresh_settings(base_settings, "rowsdb")
    ns = f'"{settings.schema}"'
    engine = get_engine(settings)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            f"CREATE SCHEMA {ns}; CREATE TABLE {ns}.shelf (id int PRIMARY KEY, "
            "label varchar(12) NOT NULL UNIQUE CHECK (length(label) >= 2)); "
            f"CREATE TABLE {ns}.book (id bigint PRIMARY KEY, shelf_id int NOT NULL "
            f"REFERENCES {ns}.shelf (id), pages int CHECK (pages BETWEEN 1 AND 900))"
        )
    env = {**db_env, "SEEDBED_SCHEMA": settings.schema}
    try:
        assert (
            run_cli_here("-q", "db", "pull", "--out", str(tmp_path / "m"), env=env).returncode == 0
        )
        written = {}
        for models in ("database", str(tmp_path / "m")):
            out = tmp_path / f"out{len(written)}"
            done = run_cli_here(
                "generate", str(out), "--rows", "25", env={**env, "SEEDBED_MODELS": models}
            )
            assert done.returncode == 0, done.stderr
            written[models] = {p.stem: p.read_bytes() for p in out.glob("*.csv")}
        assert written["database"] == written[str(tmp_path / "m")]
        assert len(pd.read_csv(tmp_path / "out0" / "shelf.csv")) == 25
        loaded = run_cli_here(
            "-q", "load", str(tmp_path / "out0"), env={**env, "SEEDBED_MODELS": "database"}
        )
        assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {ns} CASCADE")
