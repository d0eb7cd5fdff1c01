"""The fills registry: every rule kind can be generated, and the models know nothing of it."""

from __future__ import annotations

import ast
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

import seedbed.models
from seedbed.errors import GenerateError
from seedbed.models import predicates, rules
from seedbed.synthetic import fills, generate_tables


def rule_kinds() -> list[type[rules.Rule]]:
    """Every subclass of ``Rule`` declared in the model's rule modules, however deep."""
    found: list[type[rules.Rule]] = []
    pending = list(rules.Rule.__subclasses__())
    while pending:
        kind = pending.pop()
        pending.extend(kind.__subclasses__())
        if kind.__module__ == rules.__name__ or kind in predicates.PREDICATE_KINDS:
            found.append(kind)
    return sorted(found, key=lambda kind: kind.__name__)


def test_the_rule_kinds_are_found():
    names = {kind.__name__ for kind in rule_kinds()}
    assert {"Matches", "UuidV4", "Length", "Later", "RequiredWhen", "JsonShape"} <= names
    assert {"Compare", "OneOf", "Pattern", "IsNull", "AllOf", "AnyOf", "Not"} <= names


@pytest.mark.parametrize("kind", rule_kinds(), ids=lambda kind: kind.__name__)
def test_every_rule_kind_has_a_fill(kind):
    fill = next((fills.FILLS[k] for k in kind.__mro__ if k in fills.FILLS), None)
    assert fill is not None, f"add a fill for {kind.__name__} to seedbed.synthetic.fills.FILLS"


def test_a_uuid_v4_rule_is_filled_as_its_pattern():
    assert fills.fill_for(rules.uuid_v4("id")) is fills.fill_matches
    assert fills.fill_for(rules.length("name", 1, 5)) is fills.fill_length


@dataclass(frozen=True)
class Even(rules.Rule):
    """A rule kind the generator was never taught."""

    @property
    def sql(self) -> str:
        return f'"{self.columns[0]}" % 2 = 0'

    def passes(self, frame: pd.DataFrame) -> pd.Series:
        return (frame[self.columns[0]] % 2 == 0) | frame[self.columns[0]].isna()


@dataclass(frozen=True)
class Never(Even):
    """A rule kind no value passes."""

    def passes(self, frame: pd.DataFrame) -> pd.Series:
        return frame[self.columns[0]].isna()


def test_a_rule_kind_without_a_fill_is_filled_by_drawing_again():
    """Rows it refuses get new values until it takes them (generating was refused); a rule
    no value passes still fails, naming it."""
    assert fills.fill_for(Even("size_even", ("size",), "must be even")) is None
    model = sa.MetaData(schema="x")
    sa.Table(
        "box",
        model,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("size", sa.Integer, nullable=False),
        *rules.checks(Even("size_even", ("size",), "must be even")),
    )
    sizes = generate_tables(0, metadata=model, rows=500)["box"].column("size").to_pylist()
    assert len(sizes) > 450 and all(size % 2 == 0 for size in sizes)
    sa.Table(
        "crate",
        model,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("size", sa.Integer, nullable=False),
        *rules.checks(Never("size_never", ("size",), "is never right")),
    )
    with pytest.raises(GenerateError, match=r"crate: .*ck_crate_size_never"):
        generate_tables(10, metadata=model)


def test_importing_the_models_imports_neither_pyarrow_nor_the_generator():
    code = (
        "import sys, seedbed.models\n"
        "print(sorted(m for m in sys.modules"
        " if m.split('.')[0] == 'pyarrow' or m.startswith('seedbed.synthetic')))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert run.stdout.strip() == "[]"


def imported_names(source: Path) -> set[str]:
    """Modules a file imports anywhere (functions and type-only blocks too) or names lazily."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "lazy_module":
            names.update(arg.value for arg in node.args if isinstance(arg, ast.Constant))
    return names


def test_no_model_module_names_pyarrow_or_the_generator():
    folder = Path(seedbed.models.__file__).parent
    for source in sorted(folder.glob("*.py")):
        reached = {
            name
            for name in imported_names(source)
            if name.split(".")[0] == "pyarrow" or name.startswith("seedbed.synthetic")
        }
        assert reached == set(), f"{source.name} imports {sorted(reached)}"
