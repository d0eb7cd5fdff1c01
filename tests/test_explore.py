"""The explore helpers, each on its own, against real PostgreSQL with a small synthetic data set."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow.csv as pacsv
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

import seedbed
from seedbed import explore, migrate
from seedbed.config import Settings
from seedbed.db import get_engine
from seedbed.errors import ConfigError, QueryError, SeedbedError
from seedbed.facts import metadata_for as model_metadata
from seedbed.facts import using_models
from seedbed.models import metadata_for
from seedbed.synthetic import generate_tables
from tests.helpers import fresh_settings, model_folder

USERS = 300


def copy_tables(engine: Engine, schema: str, tables: dict) -> None:
    """COPY generated pyarrow tables straight in, parents first (valid by construction)."""
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cursor:
            for table in metadata_for(schema).sorted_tables:
                data = tables[table.name]
                buffer = io.BytesIO()
                pacsv.write_csv(data, buffer)
                columns = ", ".join(f'"{c}"' for c in data.column_names)
                sql = f'COPY "{schema}"."{table.name}" ({columns}) FROM STDIN (FORMAT csv, HEADER)'
                with cursor.copy(sql) as copy:
                    copy.write(buffer.getvalue())
        raw.commit()
    finally:
        raw.close()


@pytest.fixture(scope="module")
def sample(base_settings: Settings) -> Iterator[tuple[Engine, dict]]:
    """A namespace with ``USERS`` synthetic users, shared by the read-only tests of this module."""
    settings = fresh_settings(base_settings, "explore")
    migrate.upgrade_unchecked(settings)
    engine = get_engine(settings)
    tables = generate_tables(USERS, seed=7)
    copy_tables(engine, settings.schema, tables)
    explore.vacuum_analyze(engine)
    yield engine, {name: t.to_pandas() for name, t in tables.items()}
    migrate.reset(settings)


@pytest.fixture
def db(sample: tuple[Engine, dict]) -> Engine:
    return sample[0]


@pytest.fixture
def generated(sample: tuple[Engine, dict]) -> dict[str, pd.DataFrame]:
    return sample[1]


# read_table


def test_read_table_hides_soft_deleted_rows(db: Engine, generated: dict) -> None:
    posts = generated["post"]
    live = explore.read_table(db, "post")
    everything = explore.read_table(db, "post", include_deleted=True)
    assert len(live) == posts["deleted_at"].isna().sum()
    assert len(everything) == len(posts)
    assert live["deleted_at"].isna().all()
    assert everything["deleted_at"].notna().any()


def test_read_table_keeps_timestamp_dtype_when_every_value_is_null(db: Engine) -> None:
    live = explore.read_table(db, "post")
    assert isinstance(live["deleted_at"].dtype, pd.DatetimeTZDtype)
    assert live["status"].isin(["draft", "published", "archived"]).all()


def test_read_table_selects_columns_and_binds_values(db: Engine, generated: dict) -> None:
    users = generated["user"]
    verified = explore.read_table(
        db, "user", columns=["id", "email"], where={"email_verified": True}
    )
    assert list(verified.columns) == ["id", "email"]
    assert len(verified) == users["email_verified"].sum()

    wanted = users["email"].iloc[:3].tolist()
    some = explore.read_table(db, "user", where={"email": wanted})
    assert sorted(some["email"]) == sorted(wanted)

    # A value is a parameter, never SQL: quotes and injection attempts match nothing.
    assert explore.read_table(db, "user", where={"email": "x' or '1'='1"}).empty
    no_image = explore.read_table(db, "user", where={"image": None})
    assert len(no_image) == users["image"].isna().sum()


def test_read_table_orders_by_primary_key_and_limits(db: Engine, generated: dict) -> None:
    first = explore.read_table(db, "session", limit=10)
    assert first["id"].tolist() == sorted(generated["session"]["id"])[:10]


@pytest.mark.parametrize(
    ("table", "columns", "message"),
    [("usr", None, "no table 'usr'"), ("user", ["nope"], "no column 'nope'")],
)
def test_read_table_refuses_unknown_names(db: Engine, table: str, columns, message: str) -> None:
    with pytest.raises(QueryError, match=message) as caught:
        explore.read_table(db, table, columns=columns)
    assert isinstance(caught.value, SeedbedError)


KEYED = """
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Club(Base):
    __tablename__ = "club"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    gone = mapped_column("deleted_at", sa.DateTime(timezone=True), key="goneAt")


class Member(Base):
    __tablename__ = "member"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    club = mapped_column("club_id", sa.Integer, sa.ForeignKey("club.id"), key="clubRef")
    shown = mapped_column("display_name", sa.Text, key="displayName")
    left = mapped_column("deleted_at", sa.DateTime(timezone=True), key="leftAt")
"""


def test_columns_are_named_as_the_database_names_them_whatever_their_keys(
    base_settings: Settings, tmp_path: Path
) -> None:
    """``Column(..., key=...)`` holds a column under another key in ``Table.c``: explore takes
    and gives the names the database and the seeds use (it refused them as unknown)."""
    settings = fresh_settings(base_settings, "keyed")
    models = model_folder(tmp_path / "models", clubs=KEYED)
    engine = get_engine(settings)
    with using_models(str(models), engine=engine):
        pushed = migrate.push(settings, metadata=model_metadata(settings.schema))
        assert len(pushed) == 2, pushed
        try:
            with engine.begin() as conn:
                conn.execute(sa.text(f'SET LOCAL search_path TO "{settings.schema}"'))
                conn.execute(sa.text("INSERT INTO club VALUES (1, NULL), (2, now())"))
                conn.execute(
                    sa.text(
                        "INSERT INTO member VALUES (1, 1, 'b', NULL), (2, 2, 'a', NULL),"
                        " (3, 1, 'c', now())"
                    )
                )
            live = explore.read_table(
                engine,
                "member",
                columns=["id", "display_name", "deleted_at"],
                where={"club_id": [1, 2]},
                order_by="display_name",
            )
            assert live["display_name"].tolist() == ["a", "b"]  # the soft-deleted row hidden
            assert isinstance(live["deleted_at"].dtype, pd.DatetimeTZDtype)
            assert len(explore.read_table(engine, "member", include_deleted=True)) == 3
            found = explore.orphans(engine).set_index("child")
            assert found.loc["member", "parent_deleted"] == 1  # member 2's club is deleted
            assert explore.cardinality(engine, "member", "club_id")["parents"].sum() == 2
        finally:
            migrate.reset(settings)


# read_query and row_counts


def test_read_query_resolves_tables_in_the_namespace(db: Engine, generated: dict) -> None:
    user_id = generated["session"]["user_id"].iloc[0]
    counted = explore.read_query(
        db, "select count(*) as n from session where user_id = :u", {"u": user_id}
    )
    assert counted["n"].iloc[0] == (generated["session"]["user_id"] == user_id).sum()


def test_read_query_maps_driver_errors_to_query_error(db: Engine) -> None:
    with pytest.raises(QueryError, match="syntax error"):
        explore.read_query(db, "selec 1")
    with pytest.raises(QueryError, match='relation "nope" does not exist'):
        explore.read_query(db, "select * from nope")


def test_read_query_reports_a_missing_parameter_and_statements_without_rows(
    db: Engine, generated: dict
) -> None:
    with pytest.raises(QueryError, match="bind parameter 'u'"):
        explore.read_query(db, "select * from session where user_id = :u")
    with db.connect() as conn:
        updated = explore.read_query(conn, "update tag set name = name || '-x'")
        assert updated.empty and updated.attrs["rowcount"] == 8
        conn.rollback()
    tag_name = generated["tag"]["name"].iloc[1]
    assert explore.read_table(db, "tag", where={"name": tag_name}).shape[0] == 1


def test_row_counts_match_the_generated_tables(db: Engine, generated: dict) -> None:
    counts = explore.row_counts(db)
    assert counts.to_dict() == {name: len(frame) for name, frame in generated.items()}


# pagination


def test_keyset_pages_cover_every_row_once_in_order(db: Engine, generated: dict) -> None:
    pages = list(explore.keyset_pages(db, "session", limit=64, columns=["id"]))
    ids = [i for page in pages for i in page["id"]]
    assert ids == sorted(generated["session"]["id"])
    assert all(len(page) == 64 for page in pages[:-1])


def test_keyset_and_offset_pages_agree(db: Engine) -> None:
    first = explore.keyset_page(db, "session", limit=25)
    second = explore.keyset_page(db, "session", limit=25, after=first.attrs["next_after"])
    by_offset = explore.offset_page(db, "session", page=2, limit=25)
    assert second["id"].tolist() == by_offset["id"].tolist()


def test_keyset_page_with_a_composite_key(db: Engine, generated: dict) -> None:
    order = ["created_at", "id"]
    first = explore.keyset_page(db, "post", order_by=order, limit=5, include_deleted=True)
    after = first.attrs["next_after"]
    assert isinstance(after, tuple) and len(after) == 2
    second = explore.keyset_page(
        db, "post", order_by=order, limit=5, after=after, include_deleted=True
    )
    expected = generated["post"].sort_values(order)["id"].tolist()[5:10]
    assert second["id"].tolist() == expected


def test_pagination_refuses_bad_arguments(db: Engine) -> None:
    with pytest.raises(QueryError, match="2 order_by columns"):
        explore.keyset_page(db, "post", order_by=["created_at", "id"], after="x")
    with pytest.raises(QueryError, match="start at 1"):
        explore.offset_page(db, "post", page=0)


# explain, timing


def test_explain_gives_one_row_per_plan_node_with_buffers(db: Engine, generated: dict) -> None:
    user_id = generated["session"]["user_id"].iloc[0]
    plan = explore.explain(db, "select * from session where user_id = :u", {"u": user_id})
    assert explore.uses_index(plan, "ix_session_user_id")
    assert not explore.uses_index(plan, "pk_session")
    assert plan["depth"].iloc[0] == 0 and pd.isna(plan["parent_id"].iloc[0])
    assert plan["actual_rows"].iloc[0] == (generated["session"]["user_id"] == user_id).sum()
    assert explore.buffers_touched(plan) == plan["shared_hit"].iloc[0] + plan["shared_read"].iloc[0]
    assert explore.buffers_touched(plan) > 0
    assert plan.attrs["execution_ms"] > 0
    assert "ix_session_user_id" in explore.scan_summary(plan)


def test_explain_without_analyze_has_no_actual_numbers(db: Engine) -> None:
    plan = explore.explain(db, "select * from tag", analyze=False, buffers=False)
    assert plan["node_type"].iloc[0] == "Seq Scan"
    assert plan["actual_rows"].isna().all()
    assert plan.attrs["execution_ms"] is None


def test_explain_accepts_a_sqlalchemy_statement(db: Engine, generated: dict) -> None:
    tag = metadata_for(explore.tables.namespace(db)).tables[f"{explore.tables.namespace(db)}.tag"]
    with db.connect() as conn:
        conn.exec_driver_sql("set enable_seqscan = off")  # eight tags: a seq scan would win
        tag_name = generated["tag"]["name"].iloc[1]
        plan = explore.explain(conn, sa.select(tag.c.id).where(tag.c.name == tag_name))
    assert explore.uses_index(plan, "uq_tag_name")
    assert plan["actual_rows"].iloc[0] == 1


def test_explain_analyze_of_a_delete_changes_nothing(db: Engine) -> None:
    before = explore.row_counts(db)["tag"]
    plan = explore.explain(db, "delete from tag where name like '%-%'")
    assert plan["node_type"].iloc[0] == "ModifyTable"
    assert plan["operation"].iloc[0] == "Delete"
    assert explore.row_counts(db)["tag"] == before


def test_plan_frame_walks_nested_plans() -> None:
    document = {
        "Plan": {
            "Node Type": "Hash Join",
            "Plans": [
                {"Node Type": "Seq Scan", "Relation Name": "a"},
                {"Node Type": "Hash", "Plans": [{"Node Type": "Seq Scan", "Relation Name": "b"}]},
            ],
        },
        "Execution Time": 1.5,
    }
    plan = explore.plan_frame(document)
    assert plan["node_type"].tolist() == ["Hash Join", "Seq Scan", "Hash", "Seq Scan"]
    assert plan["depth"].tolist() == [0, 1, 1, 2]
    assert plan["parent_id"].tolist()[1:] == [0, 0, 2]
    assert explore.scan_summary(plan) == "Seq Scan on a; Seq Scan on b"


def test_time_call_runs_warmup_then_repeats() -> None:
    calls: list[int] = []
    timing = explore.time_call(lambda: calls.append(1), repeat=4, warmup=2)
    assert len(calls) == 6
    assert len(timing.seconds) == 4
    assert timing.min <= timing.median
    assert "median of 4" in str(timing)
    with pytest.raises(QueryError):
        explore.time_call(lambda: None, repeat=0)


def test_time_calls_take_turns() -> None:
    order: list[str] = []
    timings = explore.time_calls(
        {"a": lambda: order.append("a"), "b": lambda: order.append("b")}, repeat=3, warmup=1
    )
    assert order == ["a", "b"] + ["a", "b"] * 3
    assert {name: len(t.seconds) for name, t in timings.items()} == {"a": 3, "b": 3}
    with pytest.raises(QueryError):
        explore.time_calls({"a": lambda: None}, repeat=0)


def test_timing_median_is_the_middle_value() -> None:
    timing = explore.Timing((0.003, 0.001, 0.002))
    assert timing.median == 0.002
    assert timing.median_ms == pytest.approx(2.0)
    assert timing.min == 0.001


def test_time_query_measures_every_repeat(db: Engine) -> None:
    timing = explore.time_query(db, "select count(*) from session", repeat=3)
    assert len(timing.seconds) == 3
    assert all(s > 0 for s in timing.seconds)


# scratch copies and latency by size


def test_scratch_table_is_a_rolled_back_copy_without_indexes(db: Engine) -> None:
    with explore.scratch_table(db, "session", rows=100) as scratch:
        conn = scratch.connection
        assert conn.exec_driver_sql("select count(*) from session").scalar_one() == 100
        user_id = conn.exec_driver_sql("select user_id from session limit 1").scalar_one()
        sql = "select * from session where user_id = :u"
        assert not explore.uses_index(
            explore.explain(conn, sql, {"u": user_id}), "ix_session_user_id"
        )
        scratch.set_indexes("ix_session_user_id")
        conn.exec_driver_sql("set local enable_seqscan = off")
        assert explore.uses_index(explore.explain(conn, sql, {"u": user_id}), "ix_session_user_id")
        scratch.set_indexes("CREATE INDEX scratch_token ON {table} (token)")
        names = conn.exec_driver_sql(
            "select indexrelid::regclass::text from pg_index "
            "where indrelid = 'pg_temp.session'::regclass"
        ).scalars()
        assert [n.split(".")[-1] for n in names] == ["scratch_token"]
    assert explore.row_counts(db)["session"] == 2 * USERS
    assert explore.uses_index(
        explore.explain(db, "select * from session where user_id = 'x'"), "ix_session_user_id"
    )


def test_scratch_table_reshapes_rows_from_a_source_query(db: Engine, generated: dict) -> None:
    source = (
        "select id, email, name, email like :pattern as email_verified, image, created_at, "
        "updated_at from {source}"
    )
    with explore.scratch_table(
        db,
        "user",
        source=source,
        source_params={"pattern": "user1%"},
        indexes=["CREATE INDEX ev ON {table} (id) WHERE email_verified"],
    ) as scratch:
        conn = scratch.connection
        verified = conn.exec_driver_sql('select count(*) from "user" where email_verified')
        expected = generated["user"]["email"].str.startswith("user1").sum()
        assert verified.scalar_one() == expected
        conn.exec_driver_sql("set local enable_seqscan = off")
        plan = explore.explain(conn, 'select id from "user" where email_verified')
        assert explore.uses_index(plan, "ev")
        assert explore.buffers_touched(plan) > 0
        assert plan["shared_hit"].fillna(0).iloc[0] == 0  # a temporary table: local buffers
        assert set(scratch.index_sizes()) == {"ev"}


def test_scratch_table_builds_unique_constraints_and_refuses_unknown_indexes(db: Engine) -> None:
    with explore.scratch_table(db, "user", indexes=["uq_user_email"]) as scratch:
        plan = explore.explain(
            scratch.connection,
            'select * from "user" where email = :e',
            {"e": "user1@synthetic.example"},
        )
        assert explore.uses_index(plan, "uq_user_email")
        with pytest.raises(QueryError, match="no index named 'ix_nope'"):
            scratch.set_indexes("ix_nope")


def test_latency_by_size_reports_each_size_and_variant(db: Engine) -> None:
    result = explore.latency_by_size(
        db,
        "session",
        "select * from session where user_id = :u",
        sizes=[50, 400],
        variants={"no index": [], "ix_session_user_id": ["ix_session_user_id"]},
        params=lambda conn: {
            "u": conn.exec_driver_sql("select user_id from session limit 1").scalar_one()
        },
        repeat=2,
    )
    assert result["rows"].tolist() == [50, 50, 400, 400]
    assert result["variant"].tolist() == ["no index", "ix_session_user_id"] * 2
    assert (result["median_ms"] > 0).all()
    without = result[result["variant"] == "no index"]["scan"]
    assert without.str.startswith("Seq Scan").all()


# relationships


def test_foreign_keys_list_every_relationship_with_its_delete_rule(db: Engine) -> None:
    keys = explore.foreign_keys(db).set_index("constraint")
    assert len(keys) == 5
    assert keys.loc["fk_session_user_id_user", "on_delete"] == "CASCADE"
    assert keys.loc["fk_post_author_id_user", "on_delete"] == "NO ACTION"


def test_cardinality_accounts_for_every_parent_and_child(db: Engine, generated: dict) -> None:
    spread = explore.cardinality(db, "session", "user_id")
    assert spread["parents"].sum() == USERS
    assert (spread["children"] * spread["parents"]).sum() == len(generated["session"])
    expected_childless = USERS - generated["session"]["user_id"].nunique()
    assert spread.set_index("children")["parents"].get(0, 0) == expected_childless


def test_cardinality_refuses_a_column_that_is_not_a_foreign_key(db: Engine) -> None:
    with pytest.raises(QueryError, match="not a foreign key"):
        explore.cardinality(db, "session", "token")


def test_orphans_counts_rows_whose_parent_is_soft_deleted(db: Engine, generated: dict) -> None:
    found = explore.orphans(db).set_index(["child", "column"])
    assert (found["orphans"] == 0).all()
    deleted_posts = set(generated["post"].loc[generated["post"]["deleted_at"].notna(), "id"])
    expected = generated["post_tag"]["post_id"].isin(deleted_posts).sum()
    assert found.loc[("post_tag", "post_id"), "parent_deleted"] == expected
    assert pd.isna(found.loc[("session", "user_id"), "parent_deleted"])


def test_cascade_effect_shows_what_a_delete_removes(db: Engine, generated: dict) -> None:
    authors = set(generated["post"]["author_id"])
    sessions = generated["session"]["user_id"].value_counts()
    user_id = next(u for u in sessions.index if u not in authors)
    effect = explore.cascade_effect(db, "user", {"id": user_id}).set_index("table")
    assert effect.loc["user", "removed"] == 1
    assert effect.loc["session", "removed"] == sessions[user_id]
    assert effect.loc["post", "removed"] == 0
    assert explore.read_table(db, "user", where={"id": user_id}).shape[0] == 1


def test_cascade_effect_reports_a_refused_delete(db: Engine, generated: dict) -> None:
    author = generated["post"]["author_id"].iloc[0]
    with pytest.raises(QueryError, match="fk_post_author_id_user"):
        explore.cascade_effect(db, "user", {"id": author})
    with pytest.raises(QueryError, match="needs a where"):
        explore.cascade_effect(db, "user", {})


# indexes


def test_index_catalog_lists_every_model_index_with_its_purpose(db: Engine) -> None:
    catalog = explore.index_catalog(db).set_index("index")
    declared = {
        str(i.name)
        for t in metadata_for(explore.tables.namespace(db)).sorted_tables
        for i in t.indexes
    }
    assert declared <= set(catalog.index)
    assert "alembic_version_pkc" not in catalog.index
    assert (catalog["purpose"] != "").all()
    assert (catalog["size_bytes"] > 0).all()
    assert catalog.loc["uq_post_slug_live", "predicate"] == "(deleted_at IS NULL)"
    assert bool(catalog.loc["uq_user_email", "enforces_constraint"])
    assert not bool(catalog.loc["ix_session_user_id", "enforces_constraint"])


def test_index_scans_during_counts_only_the_workload(db: Engine, generated: dict) -> None:
    user_id = generated["session"]["user_id"].iloc[0]

    def workload(conn: sa.Connection) -> None:
        for _ in range(3):
            explore.read_query(conn, "select * from session where user_id = :u", {"u": user_id})

    audit = explore.index_scans_during(db, workload).set_index("index")
    assert audit.loc["ix_session_user_id", "workload_scans"] == 3
    assert audit.drop(index="ix_session_user_id")["workload_scans"].eq(0).all()


# sample namespaces


def test_sample_settings_suffix_the_configured_namespace(base_settings: Settings) -> None:
    assert explore.sample_settings("demo", base_settings).schema == "seedbed_demo"
    with pytest.raises(ConfigError):
        explore.sample_settings("x" * 60, base_settings)  # longer than 63 bytes with the prefix


def test_prepare_sample_builds_a_loaded_namespace(base_settings: Settings) -> None:
    settings = fresh_settings(base_settings, "s")
    engine = explore.prepare_sample("nb", 40, settings=settings)
    try:
        assert explore.tables.namespace(engine) == f"{settings.schema}_nb"
        counts = explore.row_counts(engine)
        assert counts["user"] == 40 and counts["session"] == 80
        engine = explore.prepare_sample("nb", 20, settings=settings)  # rebuilt, not appended
        assert explore.row_counts(engine)["user"] == 20
    finally:
        migrate.reset(explore.sample_settings("nb", settings))


def test_explore_helpers_are_exported_from_the_package() -> None:
    for name in ("read_table", "explain", "keyset_page", "time_query", "Timing"):
        assert getattr(seedbed, name) is getattr(explore, name)
