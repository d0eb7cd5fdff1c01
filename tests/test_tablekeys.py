"""One reading of keys and indexes: validation, load modes, the ER diagram and docs agree."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from seedbed.docs.tables import table_section
from seedbed.errors import SeedError
from seedbed.facts import table_keys, table_spec, unique_column_sets
from seedbed.loading.modes import conflict_key
from seedbed.models import metadata


def _gadget() -> sa.Table:
    extra = sa.MetaData(schema="extra", naming_convention={"pk": "pk_%(table_name)s"})
    gadget = sa.Table(
        "gadget",
        extra,
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("code", sa.Text, nullable=False),
        sa.Column("serial", sa.Text),
        sa.Column("price", sa.Integer),
        sa.Column("deleted_at", sa.DateTime(timezone=True)),
    )
    sa.Index("uq_gadget_lower_code", sa.func.lower(gadget.c.code), unique=True)
    sa.Index(
        "uq_gadget_serial_priced",
        gadget.c.serial,
        unique=True,
        postgresql_where=gadget.c.price > 0,
    )
    sa.Index(
        "uq_gadget_serial_live",
        gadget.c.serial,
        unique=True,
        postgresql_where=gadget.c.deleted_at.is_(None),
    )
    return gadget


def test_expression_and_partial_unique_indexes_are_read_once() -> None:
    gadget = _gadget()
    keys = {k.name: k for k in table_keys(gadget).unique}
    assert keys["pk_gadget"].kind == "primary key"
    assert keys["uq_gadget_lower_code"].expressions == ("lower(extra.gadget.code)",)
    assert not keys["uq_gadget_lower_code"].checkable
    priced = keys["uq_gadget_serial_priced"]
    assert priced.where == "extra.gadget.price > 0"
    assert priced.checkable and priced.condition is not None  # a predicate seedbed reads
    assert priced.reads == ("serial", "price")
    live = keys["uq_gadget_serial_live"]
    assert live.checkable and live.where_null == ("deleted_at",)
    # validation checks what it can read; the database judges the rest (expressions)
    assert [k.name for k in table_spec(gadget).unique_keys] == [
        "pk_gadget",
        "uq_gadget_serial_live",
        "uq_gadget_serial_priced",
    ]
    # none of them is unique over whole rows, so none is a conflict key or a UK marker
    assert unique_column_sets(gadget) == []
    with pytest.raises(SeedError, match="cannot upsert or skip existing rows without a key"):
        conflict_key(gadget, ["serial", "code"])
    section = table_section(gadget, gadget.metadata)
    assert "`uq_gadget_lower_code`: unique index on (`lower(extra.gadget.code)`)" in section


def test_the_models_keys_as_every_reader_sees_them() -> None:
    post = metadata.tables[f"{metadata.schema}.post"]
    keys = table_keys(post)
    assert keys.primary_key is not None and keys.primary_key.columns == ("id",)
    assert [k.name for k in keys.unique if k.partial] == ["uq_post_slug_live"]
    assert conflict_key(post, ["id", "slug"]) == ("id",)
    with pytest.raises(SeedError):  # the slug is unique only among live rows
        conflict_key(post, ["slug", "title"])
    tag = metadata.tables[f"{metadata.schema}.tag"]
    assert conflict_key(tag, ["name"]) == ("name",)
    assert unique_column_sets(tag) == [("name",)]
