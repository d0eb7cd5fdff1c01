"""CHECKs declared on a column (``mapped_column(sa.Integer, sa.CheckConstraint(...))``) and
CHECKs declared without a name, in a model of one's own: SQLAlchemy keeps a column's CHECK
apart from its table's, and seedbed's naming convention needs a name. Each becomes one of
the table's CHECKs, named, created by ``db push`` and revisions, judged before load and
kept by ``seedbed generate``."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from seedbed.config import Settings
from seedbed.db import get_engine
from tests.helpers import pushed_models, run_cli_here

SHOP = """
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Line(Base):
    __tablename__ = "order line"
    __table_args__ = (sa.CheckConstraint('"Unit Price" < 1000'), sa.CheckConstraint("qty < 50"))

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    qty = mapped_column(sa.Integer, sa.CheckConstraint("qty > 0"), nullable=False)
    price = mapped_column(
        "Unit Price", sa.Numeric(8, 2), sa.CheckConstraint('"Unit Price" >= 0', name="price_sign")
    )
    note = mapped_column(sa.Text, sa.CheckConstraint("length(note) <= 20"))
"""

NAMES = [
    "ck_order line_Unit Price",
    "ck_order line_note",
    "ck_order line_price_sign",
    "ck_order line_qty",
    "ck_order line_qty_2",
]


def _checks(settings: Settings, table: str) -> list[tuple[str, str]]:
    """The CHECKs of ``table`` in the database: name and definition, by name."""
    with get_engine(settings).connect() as conn:
        found = conn.execute(
            sa.text(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE contype = 'c' AND conrelid = to_regclass(:t) ORDER BY 1"
            ),
            {"t": f'"{settings.schema}"."{table}"'},
        )
        return [(name, definition) for name, definition in found]


@pytest.fixture
def env(tmp_path: Path, db_env: dict[str, str], empty_settings: Settings) -> dict[str, str]:
    return pushed_models(tmp_path / "line_models", db_env, empty_settings, shop=SHOP)


def test_every_check_is_the_tables_named_and_in_the_database(
    env: dict[str, str], empty_settings: Settings
) -> None:
    assert [name for name, _ in _checks(empty_settings, "order line")] == NAMES
    checked = run_cli_here("db", "check", env=env)
    assert checked.returncode == 0, checked.stdout


def test_each_check_is_judged_before_load_under_its_name(
    env: dict[str, str], empty_settings: Settings, tmp_path: Path
) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "order line.csv").write_text(
        "id,qty,Unit Price,note\n"
        "1,0,5,ok\n"  # qty > 0
        "2,60,-1,ok\n"  # qty < 50, price_sign
        "3,1,1000,much too long for the note\n"  # Unit Price < 1000, length(note)
        "4,1,1.5,fine\n"
    )
    done = run_cli_here("-q", "validate", str(seeds), env=env)
    assert done.returncode == 1
    found = sorted(
        (line.split(":")[1].split()[0], line.rsplit("[", 1)[1].rstrip("]"))
        for line in done.stdout.splitlines()
        if line.startswith(str(seeds))
    )
    assert found == [
        ("2", "ck_order line_qty"),
        ("3", "ck_order line_price_sign"),
        ("3", "ck_order line_qty_2"),
        ("4", "ck_order line_Unit Price"),
        ("4", "ck_order line_note"),
    ]
    generated = run_cli_here("-q", "generate", "--rows", "30", str(tmp_path / "made"), env=env)
    assert generated.returncode == 0, generated.stderr
    loaded = run_cli_here("-q", "load", str(tmp_path / "made"), env=env)
    assert loaded.returncode == 0, loaded.stderr


def test_a_plain_bases_column_checks_are_pushed_under_postgresqls_names(
    tmp_path: Path, db_env: dict[str, str], empty_settings: Settings
) -> None:
    """A model on a base of its own, without a naming convention: the CHECK on a column and
    the table's unnamed ones get the names CREATE TABLE gives them (see
    test_declared_checks), now from db push too, which left the column's out."""
    from tests.test_declared_checks import PLAIN_BASE, UNNAMED

    pushed_models(tmp_path / "box_models", db_env, empty_settings, base=PLAIN_BASE, box=UNNAMED)
    assert _checks(empty_settings, "box") == [
        ("box_check", "CHECK ((width < height))"),
        ("box_width_check", "CHECK ((width > 0))"),
        ("box_width_check1", "CHECK ((width <> 3))"),
    ]


#: every CHECK named, two of them on columns
NAMED = """
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Line(Base):
    __tablename__ = "order line"
    __table_args__ = (sa.CheckConstraint("qty < 50", name="few"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    qty = mapped_column(sa.Integer, sa.CheckConstraint("qty > 0", name="some"), nullable=False)
    note = mapped_column(sa.Text, sa.CheckConstraint("length(note) <= 20", name="short"))
"""


def test_a_revision_creates_the_checks_declared_on_columns(
    tmp_path: Path, db_env: dict[str, str], empty_settings: Settings
) -> None:
    """Alembic renders a table's columns without their CHECKs: a revision left them out,
    where db push made them."""
    from seedbed._alembic import new_environment
    from tests.helpers import model_folder

    folder = tmp_path / "line_migrations"
    new_environment(folder)
    env = {
        **db_env,
        "SEEDBED_MODELS": str(model_folder(tmp_path / "named_models", shop=NAMED)),
        "SEEDBED_SCHEMA": empty_settings.schema,
        "SEEDBED_MIGRATIONS": str(folder),
    }
    for args in (("db", "generate", "-m", "init"), ("db", "migrate")):
        done = run_cli_here("-q", *args, env=env)
        assert done.returncode == 0, done.stdout + done.stderr
    assert [name for name, _ in _checks(empty_settings, "order line")] == [
        "ck_order line_few",
        "ck_order line_short",
        "ck_order line_some",
    ]
    assert run_cli_here("-q", "db", "check", env=env).returncode == 0
