"""The model-facts layer: the one seam where the model's source is chosen.

Upper layers ask :mod:`seedbed.facts` for the model; a source put in its place
is what validation and the docs then see, with no change to either.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

import seedbed.facts as facts
import seedbed.models as models
from seedbed.docs import check_docs, render_data_models
from seedbed.errors import ConfigError, SeedError
from seedbed.facts import source
from seedbed.validation import pandera_schema
from tests.helpers import ROOT

SRC = ROOT / "src" / "seedbed"

#: The model package, and the layer that is allowed to read it.
_MAY_IMPORT_MODELS = ("models", "facts")


class GadgetSource:
    """A second source: one table, declared in no package."""

    name = "test gadgets"

    def __init__(self) -> None:
        self._by_schema: dict[str, sa.MetaData] = {}

    def metadata(self, schema: str) -> sa.MetaData:
        if schema not in self._by_schema:
            metadata = sa.MetaData(schema=schema)
            sa.Table(
                "gadget",
                metadata,
                sa.Column("id", sa.Integer, primary_key=True),
                sa.Column("label", sa.Text, nullable=False, info={"doc": "what it is called"}),
            )
            self._by_schema[schema] = metadata
        return self._by_schema[schema]

    def declared_metadata(self) -> sa.MetaData:
        return self.metadata("gadgets")

    def declaring_class(self, table: sa.Table) -> type | None:
        return None


@pytest.fixture
def gadgets(monkeypatch: pytest.MonkeyPatch) -> GadgetSource:
    chosen = GadgetSource()
    monkeypatch.setattr(source, "_chosen", chosen)
    return chosen


def test_today_the_source_is_the_shipped_package():
    chosen = facts.model_source()
    assert isinstance(chosen, facts.ModelSource)
    assert chosen.name == "package seedbed.models"
    assert facts.declared_metadata() is models.metadata
    assert facts.metadata_for("shop") is models.metadata_for("shop")
    assert facts.metadata_for("shop").schema == "shop"


def test_the_package_names_the_class_that_declares_each_table():
    user = facts.declared_metadata().tables[f"{models.metadata.schema}.user"]
    cls = facts.declaring_class(user)
    assert cls is not None and cls.__module__ == "seedbed.models.user"
    stray = sa.Table("stray", sa.MetaData(), sa.Column("id", sa.Integer))
    assert facts.declaring_class(stray) is None


def test_a_second_source_satisfies_the_protocol(gadgets):
    assert isinstance(gadgets, facts.ModelSource)
    assert facts.model_source() is gadgets
    assert [t.name for t in facts.metadata_for("elsewhere").sorted_tables] == ["gadget"]


def test_validation_reads_the_model_from_the_chosen_source(gadgets):
    schema = pandera_schema("gadget")
    assert set(schema.columns) == {"id", "label"}
    with pytest.raises(SeedError, match="tables: gadget"):
        pandera_schema("user")


def test_the_document_describes_the_chosen_source(gadgets):
    text = render_data_models(facts.declared_metadata())
    assert "### `gadget`" in text and "what it is called" in text
    assert "### `user`" not in text
    assert check_docs(ROOT / "docs" / "reference" / "data-models.md")  # the package's is stale


def test_every_public_name_of_the_face_resolves():
    lazy = {name for names in facts._LAZY.values() for name in names}
    assert lazy == set(facts.__all__)
    assert set(dir(facts)) >= lazy
    for name in facts.__all__:
        assert getattr(facts, name) is not None, name
    with pytest.raises(AttributeError):
        _ = facts.no_such_fact


def _imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, at any level and under TYPE_CHECKING too."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_nothing_above_the_facts_layer_imports_the_model_package():
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        part = path.relative_to(SRC).parts[0]
        if part in _MAY_IMPORT_MODELS:
            continue
        names = _imported_modules(path)
        if any(n == "seedbed.models" or n.startswith("seedbed.models.") for n in names):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_the_import_check_sees_a_model_import(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from seedbed.models import metadata\n")
    assert "seedbed.models" in _imported_modules(probe)


def test_the_models_setting_chooses_the_source(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("SEEDBED_MODELS", "database")
    chosen = facts.model_source()
    assert isinstance(chosen, facts.DatabaseSource)  # nothing is read until asked
    monkeypatch.setenv("SEEDBED_MODELS", str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="SEEDBED_MODELS"):
        facts.model_source()
    monkeypatch.delenv("SEEDBED_MODELS")
    assert facts.model_source() is source._chosen


def test_a_pinned_source_is_the_one_every_fact_reads(gadgets):
    other = GadgetSource()
    with facts.using_models(other) as pinned:
        assert pinned is other and facts.model_source() is other
        assert facts.declared_metadata() is other.metadata("gadgets")
    assert facts.model_source() is gadgets


def test_a_check_only_postgresql_can_judge_needs_its_database():
    rule = facts.SqlCheck("ck_odd", ("n",), "must be odd", "n % 2 = 1", ("integer",))
    with pytest.raises(SeedError, match="evaluated by PostgreSQL"):
        rule.passes(pd.DataFrame({"n": [1]}))
