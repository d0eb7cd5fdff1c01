"""The public surface: ``seedbed.__all__`` lists exactly what the package exports."""

from __future__ import annotations
import __future__

import subprocess
import sys
import types
import uuid
from pathlib import Path

import pytest

import seedbed
from seedbed.config import Settings
from tests.helpers import ROOT


def test_all_names_exist() -> None:
    missing = [name for name in seedbed.__all__ if not hasattr(seedbed, name)]
    assert missing == []


def test_every_public_export_is_listed_in_all() -> None:
    exported = {
        name
        for name in dir(seedbed)
        if not name.startswith("_")
        and not isinstance(getattr(seedbed, name), types.ModuleType | __future__._Feature)
    }
    assert exported == set(seedbed.__all__)


def test_all_is_sorted_and_unique() -> None:
    assert list(seedbed.__all__) == sorted(set(seedbed.__all__))


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'lod'"):
        _ = seedbed.lod  # type: ignore[attr-defined]


def _imported_after(code: str, env: dict[str, str] | None = None) -> set[str]:
    """The modules a fresh interpreter has loaded after running ``code``."""
    probe = f"{code}\nimport sys\nprint(' '.join(sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env
    )
    return set(done.stdout.split())


def test_importing_seedbed_leaves_the_heavy_parts_until_they_are_used() -> None:
    loaded = _imported_after("import seedbed")
    assert not loaded & {"seedbed.explore", "seedbed.loading", "seedbed.validation", "pandas"}
    assert not loaded & {"sqlalchemy", "psycopg", "importlib.metadata"}
    loaded = _imported_after("import seedbed\nseedbed.load")
    assert "seedbed.loading" in loaded and "seedbed.explore" not in loaded


def test_the_command_line_and_the_loader_leave_migrations_and_pandera_until_used() -> None:
    code = "from seedbed.cli import build_parser\nbuild_parser()\nimport seedbed.loading.load"
    loaded = _imported_after(code)
    assert not loaded & {"alembic", "seedbed.migrate", "seedbed.safety", "seedbed.explore"}
    assert "pandera" not in loaded  # imported by the first schema built, in validation
    loaded = _imported_after("import seedbed\nseedbed.pandera_schema('user')")
    assert "pandera" in loaded


#: Everything the loader's writer does for a seed folder, in the calling thread:
#: read the headers, plan, lock, drop, COPY every file, rebuild; then roll back.
_WRITE_ONLY = """
from pathlib import Path
from seedbed.db import get_engine, schema_of
from seedbed.loading.load import _connect
from seedbed.loading.writer import Writer, jobs_of
from seedbed.loadmode import LoadMode, Strategy
from seedbed.loading.plan import plan_load
from seedbed.validation.sources import resolve_sources

engine = get_engine()
sources = resolve_sources(Path({folder!r}), schema_of(engine))
jobs = jobs_of(sources, LoadMode.INSERT)
plan = plan_load(engine, [job.table for job in jobs], Strategy.AUTO, LoadMode.INSERT, 10.0)
raw = _connect(engine)
writer = Writer(raw.driver_connection, jobs, LoadMode.INSERT, False, plan, 10.0)
writer.run()
raw.driver_connection.rollback()
assert writer.error is None, writer.error
assert {{table.strategy for table in writer.results}} == {{"rebuild"}}, writer.results
assert sum(table.inserted for table in writer.results) == {rows}, writer.results
"""


def test_the_writer_copies_and_rebuilds_before_pandas_is_imported(
    settings: Settings, db_env: dict[str, str]
) -> None:
    """The COPY starts while the calling thread is still importing pandas to validate.

    So nothing the writer runs may import pandas or pyarrow (numpy, which reads
    the CSV header, is allowed).
    """
    folder = ROOT / "data" / "seeds"
    rows = sum(len(path.read_text().splitlines()) - 1 for path in folder.glob("*.csv"))
    env = dict(db_env, SEEDBED_SCHEMA=settings.schema)
    loaded = _imported_after(_WRITE_ONLY.format(folder=str(folder), rows=rows), env)
    assert "seedbed.loading.rebuild" in loaded
    assert not loaded & {"pandas", "pyarrow", "pandera"}


def test_a_load_of_valid_seeds_checks_them_without_pandera_or_pandas(
    settings: Settings, db_env: dict[str, str]
) -> None:
    env = dict(db_env, SEEDBED_SCHEMA=settings.schema)
    folder = ROOT / "data" / "seeds"
    code = f"from seedbed.cli import main\nassert main(['-q', 'load', {str(folder)!r}]) == 0"
    loaded = _imported_after(code, env)
    assert "seedbed.validation.rowchecks" in loaded
    assert "pandera" not in loaded  # built only for a chunk that fails its checks
    assert "pandas" not in loaded  # pyarrow imports it for any value it converts


def _new_sessions(folder: Path) -> Path:
    """The shipped sessions with new ids and tokens: their users are in the database."""
    text = (ROOT / "data" / "seeds" / "session.csv").read_text(encoding="utf-8")
    head, *rows = text.splitlines()
    fresh = []
    for row in rows:
        rest = row.split(",", 1)[1]
        fresh.append(f'"{uuid.uuid4()}",{rest.replace("st_", "st_new_", 1)}')
    path = folder / "session.csv"
    path.write_text("\n".join([head, *fresh]) + "\n", encoding="utf-8")
    return path


def test_keys_looked_up_in_the_database_are_read_without_pandas(
    populated: Settings, db_env: dict[str, str], tmp_path: Path
) -> None:
    """The sessions' users are only in the database, and --against-db looks up every key."""
    seed = _new_sessions(tmp_path)
    env = dict(db_env, SEEDBED_SCHEMA=populated.schema)
    for command in (["validate", "--against-db"], ["load"]):
        code = f"from seedbed.cli import main\nassert main({['-q', *command, str(seed)]!r}) == 0"
        loaded = _imported_after(code, env)
        assert "seedbed.validation.validator" in loaded
        assert "pandas" not in loaded
    code = f"from seedbed.cli import main\nassert main({['-q', 'load', str(seed)]!r}) == 1"
    loaded = _imported_after(code, env)  # now every key is there: a report, with pandas
    assert "pandas" in loaded
