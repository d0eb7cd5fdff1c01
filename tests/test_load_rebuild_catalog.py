"""A rebuild gives back everything it dropped: the whole catalog state of every table it loads.

Replica identity, cluster marks, index storage parameters and tablespaces,
statistics targets, deferrability, ``NOT VALID``, comments, grants, policies
and publication membership: :func:`tests.catalog_state.catalog_state` reads
all of it, before and after a load.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

import seedbed
from seedbed.db import schema_of
from seedbed.errors import LoadError, SeedError
from tests.catalog_state import catalog_state, changes
from tests.helpers import ROOT, counts
from tests.load_helpers import execute, user_rows, write_csv

SEEDS = ROOT / "data" / "seeds"


@pytest.fixture
def tablespace(engine: Engine) -> Iterator[str]:
    """A tablespace of the test's own, in a folder the server's system user owns.

    Cluster-wide objects cannot be made in a transaction, hence autocommit.
    """
    name = f"ts_{schema_of(engine)}"[:60]
    autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
    with autocommit.connect() as conn:
        data = Path(str(conn.exec_driver_sql("SHOW data_directory").scalar_one()))
        if not data.is_dir():
            pytest.skip("the server's data directory is not on this machine")
        folder = data.parent / name
        folder.mkdir()
        os.chown(folder, data.stat().st_uid, data.stat().st_gid)
        conn.exec_driver_sql(f"CREATE TABLESPACE \"{name}\" LOCATION '{folder}'")
    yield name
    with autocommit.connect() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema_of(engine)}" CASCADE')
        conn.exec_driver_sql(f'DROP TABLESPACE "{name}"')
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def publication(engine: Engine) -> Iterator[str]:
    """A publication of the test's own (publications belong to the database, not the namespace)."""
    name = f"pub_{schema_of(engine)}"[:60]
    yield name
    execute(engine, f'DROP PUBLICATION IF EXISTS "{name}"')


def decorate(engine: Engine, tablespace: str, publication: str) -> None:
    """Give ``tag``, ``post`` and ``post_tag`` every catalog feature a rebuild could lose."""
    with engine.connect() as conn:
        version = int(conn.exec_driver_sql("SHOW server_version_num").scalar_one())
    distinct = " NULLS NOT DISTINCT" if version >= 150000 else ""
    not_enforced = (  # no row breaks it; none may be refused for it either
        "ALTER TABLE post ADD CONSTRAINT ck_post_short CHECK (length(title) < 3) NOT ENFORCED;"
        if version >= 180000
        else ""
    )
    execute(
        engine,
        f"""
        SET search_path = "{{schema}}";
        -- tag: replica identity by a unique constraint's index, clustered on its key
        ALTER TABLE tag REPLICA IDENTITY USING INDEX uq_tag_name;
        ALTER TABLE tag CLUSTER ON pk_tag;
        ALTER INDEX pk_tag SET (fillfactor = 70);
        ALTER INDEX uq_tag_name SET TABLESPACE "{tablespace}";
        CREATE INDEX ix_tag_lower_name ON tag (lower(name) COLLATE "C" text_pattern_ops)
            INCLUDE (id) WITH (fillfactor = 60, deduplicate_items = off)
            TABLESPACE "{tablespace}";
        ALTER INDEX ix_tag_lower_name ALTER COLUMN 1 SET STATISTICS 500;
        COMMENT ON INDEX ix_tag_lower_name IS 'prefix search';
        COMMENT ON CONSTRAINT pk_tag ON tag IS 'the key';
        COMMENT ON INDEX pk_tag IS 'the key''s index';
        ALTER TABLE tag SET (fillfactor = 80);
        ALTER TABLE tag ALTER COLUMN name SET STATISTICS 300;
        GRANT SELECT ON tag TO PUBLIC;
        ALTER TABLE tag ENABLE ROW LEVEL SECURITY;
        CREATE POLICY tag_named ON tag USING (name <> '');
        -- post: full replica identity, deferrable keys with options, a NOT VALID check
        ALTER TABLE post REPLICA IDENTITY FULL;
        ALTER TABLE post ADD CONSTRAINT uq_post_id_title UNIQUE (id, title) INCLUDE (slug)
            WITH (fillfactor = 80) USING INDEX TABLESPACE "{tablespace}" DEFERRABLE;
        ALTER TABLE post ADD CONSTRAINT ex_post_id EXCLUDE USING btree (id WITH =)
            WITH (fillfactor = 50) USING INDEX TABLESPACE "{tablespace}"
            DEFERRABLE INITIALLY DEFERRED;
        ALTER TABLE post ADD CONSTRAINT ck_post_no_spam CHECK (title <> 'spam') NOT VALID;
        CREATE UNIQUE INDEX uq_post_title_slug ON post (title DESC NULLS LAST, slug){distinct};
        COMMENT ON CONSTRAINT ck_post_no_spam ON post IS 'not for old rows';
        {not_enforced}
        -- user: replica identity and cluster mark on a plain unique index
        CREATE UNIQUE INDEX ix_user_email_identity ON "user" (email) WITH (fillfactor = 90);
        ALTER TABLE "user" REPLICA IDENTITY USING INDEX ix_user_email_identity;
        ALTER TABLE "user" CLUSTER ON ix_user_email_identity;
        -- post_tag: no replica identity, a deferred foreign key
        ALTER TABLE post_tag REPLICA IDENTITY NOTHING;
        ALTER TABLE post_tag ALTER CONSTRAINT fk_post_tag_tag_id_tag
            DEFERRABLE INITIALLY DEFERRED;
        CREATE PUBLICATION "{publication}" FOR TABLE tag, post WHERE (deleted_at IS NULL)
            WITH (publish = 'insert, update, delete');
        """,
    )


def test_a_rebuild_restores_the_whole_catalog_state_of_every_table(engine, tablespace, publication):
    decorate(engine, tablespace, publication)
    before = catalog_state(engine)
    index, table = before["index"], before["table"]
    assert table["tag"]["relreplident"] == "i" and index["uq_tag_name"]["index"]["indisreplident"]
    assert index["pk_tag"]["index"]["indisclustered"]
    user_index = index["ix_user_email_identity"]["index"]
    assert user_index["indisreplident"] and user_index["indisclustered"]
    assert index["pk_tag"]["class"]["reloptions"] == ["fillfactor=70"]
    assert index["uq_tag_name"]["tablespace"] == tablespace
    assert index["ix_tag_lower_name"]["columns"][0]["attstattarget"] == 500
    assert not before["constraint"]["post.ck_post_no_spam"]["constraint"]["convalidated"]
    assert before["publication"] and before["policy"]
    not_enforced = before["constraint"].get("post.ck_post_short", {"definition": "NOT ENFORCED"})
    assert "NOT ENFORCED" in not_enforced["definition"]

    result = seedbed.load(SEEDS, engine=engine, progress=False)

    assert {t.strategy for t in result.tables} == {"rebuild"}
    assert counts(engine)["tag"] > 0 and counts(engine)["post_tag"] > 0
    assert changes(before, catalog_state(engine)) == []


def test_the_incremental_path_leaves_the_decorated_catalog_alone(engine, tablespace, publication):
    decorate(engine, tablespace, publication)
    before = catalog_state(engine)
    result = seedbed.load(SEEDS, engine=engine, strategy="incremental", progress=False)
    assert {t.strategy for t in result.tables} == {"incremental"}
    assert changes(before, catalog_state(engine)) == []


@pytest.mark.parametrize("strategy", ["rebuild", "incremental"])
def test_update_works_on_a_published_table_after_a_load(engine, publication, strategy):
    execute(
        engine,
        'ALTER TABLE "{schema}".tag REPLICA IDENTITY USING INDEX uq_tag_name; '
        f'CREATE PUBLICATION "{publication}" FOR TABLE "{{schema}}".tag, "{{schema}}"."user" '
        "WITH (publish = 'insert, update, delete')",
    )
    result = seedbed.load(SEEDS, engine=engine, strategy=strategy, progress=False)
    assert {t.strategy for t in result.tables} == {strategy}
    with engine.begin() as conn:
        schema = schema_of(engine)
        renamed = conn.exec_driver_sql(f"UPDATE \"{schema}\".tag SET name = name || '!'").rowcount
        verified = conn.exec_driver_sql(
            f'UPDATE "{schema}"."user" SET email_verified = NOT email_verified'
        ).rowcount
        deleted = conn.exec_driver_sql(f'DELETE FROM "{schema}".post_tag').rowcount
    assert renamed == counts(engine)["tag"] > 0 and verified > 0 and deleted > 0


@pytest.mark.parametrize("strategy", ["rebuild", "incremental"])
def test_a_not_valid_check_still_refuses_new_rows_and_stays_not_valid(engine, seeds, strategy):
    execute(
        engine,
        """ALTER TABLE "{schema}".post ADD CONSTRAINT ck_no_spam CHECK (title <> 'spam') """
        "NOT VALID",
    )
    before = catalog_state(engine)
    header, rows = user_rows(seeds / "post.csv")
    rows[5][header.index("title")] = "spam"
    write_csv(seeds / "post.csv", header, rows)
    with pytest.raises(LoadError) as caught:
        seedbed.load(seeds, engine=engine, strategy=strategy, progress=False)
    assert caught.value.constraint == "ck_no_spam" and caught.value.line == 7
    assert changes(before, catalog_state(engine)) == [] and set(counts(engine).values()) == {0}

    rows[5][header.index("title")] = "not spam"
    write_csv(seeds / "post.csv", header, rows)
    seedbed.load(seeds, engine=engine, strategy=strategy, progress=False)
    assert changes(before, catalog_state(engine)) == []


@pytest.mark.parametrize("strategy", ["rebuild", "incremental"])
def test_a_not_valid_foreign_key_still_refuses_new_rows(engine, seeds, strategy):
    execute(
        engine,
        'ALTER TABLE "{schema}".verification ADD CONSTRAINT fk_verification_identifier_user '
        'FOREIGN KEY (identifier) REFERENCES "{schema}"."user" (email) NOT VALID',
    )
    before = catalog_state(engine)
    header, rows = user_rows(seeds / "verification.csv")
    rows[3][header.index("identifier")] = "nobody@example.com"
    write_csv(seeds / "verification.csv", header, rows)
    with pytest.raises(LoadError) as caught:
        seedbed.load(seeds, engine=engine, strategy=strategy, progress=False)
    assert caught.value.constraint == "fk_verification_identifier_user"
    assert caught.value.line == 5
    assert changes(before, catalog_state(engine)) == [] and set(counts(engine).values()) == {0}


def test_replica_identity_nothing_full_and_default_stay(engine):
    execute(
        engine,
        'ALTER TABLE "{schema}".tag REPLICA IDENTITY NOTHING; '
        'ALTER TABLE "{schema}".post REPLICA IDENTITY FULL',
    )
    seedbed.load(SEEDS, engine=engine, strategy="rebuild", progress=False)
    with engine.connect() as conn:
        identities = dict(
            conn.execute(
                sa.text(
                    "SELECT relname, relreplident FROM pg_class "
                    "WHERE relnamespace = CAST(:s AS regnamespace) AND relkind = 'r'"
                ),
                {"s": schema_of(engine)},
            ).all()
        )
    assert identities["tag"] == "n" and identities["post"] == "f" and identities["user"] == "d"


def test_a_table_whose_truncate_would_be_seen_outside_the_load_is_not_rebuilt(engine, publication):
    execute(
        engine,
        'CREATE FUNCTION "{schema}".refuse() RETURNS trigger LANGUAGE plpgsql '
        "AS $$ BEGIN RAISE EXCEPTION 'truncated'; END $$; "
        'CREATE TRIGGER no_truncate BEFORE TRUNCATE ON "{schema}".tag '
        'FOR EACH STATEMENT EXECUTE FUNCTION "{schema}".refuse(); '
        f'CREATE PUBLICATION "{publication}" FOR TABLE "{{schema}}".verification',
    )
    for table, reason in [
        ("tag", "its trigger no_truncate fires on TRUNCATE"),
        ("verification", f"publication {publication} publishes truncates"),
    ]:
        with pytest.raises(SeedError) as caught:
            seedbed.load([SEEDS / f"{table}.csv"], engine=engine, strategy="rebuild")
        why = f"'{table}' cannot be rebuilt: emptying it would be seen outside the load: {reason}"
        assert why in str(caught.value)
    result = seedbed.load(SEEDS, engine=engine, progress=False)
    strategies = {t.table: t.strategy for t in result.tables}
    assert strategies.pop("tag") == strategies.pop("verification") == "incremental"
    assert set(strategies.values()) == {"rebuild"}
    assert counts(engine)["tag"] > 0 and counts(engine)["verification"] > 0
