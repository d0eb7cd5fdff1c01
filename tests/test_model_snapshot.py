"""The model's facts kept between runs (``seedbed.facts.snapshot``): a check of files reads
them back without SQLAlchemy, gives the verdicts the declaration gives, and never a stale
snapshot's."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

import seedbed
from seedbed.facts import snapshot
from seedbed.facts.snapshot import stored_tables
from seedbed.facts.stored import StoredTable
from tests.helpers import ROOT, model_folder, modules_after, run_cli

INVALID = ROOT / "data" / "invalid"

SHELF = """
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from seedbed.models.rules import Length, checks

from .base import Base


class Shelf(Base):
    __tablename__ = "shelf"
    __table_args__ = checks(Length("code_length", ("code",), "code is short", 1, 5))

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    code = mapped_column(sa.Text, nullable=False)
"""

TAGGED = """
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Tagged(Base):
    __tablename__ = "tagged"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    spans = mapped_column(postgresql.INT4RANGE)
"""


def _env(cache: Path, **more: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "SEEDBED_MODELS"}
    return {**env, "SEEDBED_CACHE": str(cache), **more}


def _validated(seeds: Path, env: dict[str, str]) -> set[str]:
    code = f"from seedbed.cli import main\nmain(['-q', 'validate', {str(seeds)!r}])"
    return modules_after(code, env=env)


def test_a_second_check_of_files_imports_no_sqlalchemy(tmp_path: Path) -> None:
    env = _env(tmp_path / "cache")
    valid, invalid = ROOT / "data" / "seeds", INVALID / "bad_email"
    assert "sqlalchemy" in _validated(valid, env)  # the first run reads the declaration
    assert list((tmp_path / "cache").glob("model-*.pickle"))
    for seeds in (valid, invalid):
        loaded = _validated(seeds, env)
        assert "seedbed.validation.validator" in loaded
        assert "sqlalchemy" not in loaded
    # without the cache, every run reads the declaration
    assert "sqlalchemy" in _validated(valid, _env(tmp_path / "unused", SEEDBED_CACHE="off"))
    assert not (tmp_path / "unused").exists()


VERDICTS = """
import json, sys
from pathlib import Path
import seedbed
out = {}
for case in sorted(Path(sys.argv[1]).iterdir()):
    if case.is_dir() and case.name != "inputs":
        rows = seedbed.validate(case).failures.astype(str).to_dict("records")
        out[case.name] = sorted(json.dumps(r, sort_keys=True) for r in rows)
print(json.dumps(out))
print(" ".join(sys.modules))
"""


def _verdicts(env: dict[str, str]) -> tuple[dict[str, list[str]], set[str]]:
    done = subprocess.run(
        [sys.executable, "-c", VERDICTS, str(INVALID)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=ROOT,
    )
    verdicts, modules = done.stdout.splitlines()[-2:]
    return json.loads(verdicts), set(modules.split())


def test_the_snapshot_gives_the_declarations_verdicts_on_every_broken_seed_set(
    tmp_path: Path,
) -> None:
    stored = _env(tmp_path / "cache")
    first, loaded = _verdicts(stored)  # reads the declaration, stores the snapshot
    assert "sqlalchemy" in loaded
    again, loaded = _verdicts(stored)
    assert "sqlalchemy" not in loaded
    declared, _ = _verdicts(_env(tmp_path / "unused", SEEDBED_CACHE="off"))
    assert len(declared) >= 25 and all(declared.values())
    assert again == first == declared


def _stored(cache: Path) -> Path:
    (found,) = cache.glob("model-*.pickle")
    return found


def test_a_model_file_changed_in_place_is_read_again(tmp_path: Path) -> None:
    models = model_folder(tmp_path / "models", shelf=SHELF)
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "shelf.csv").write_text("id,code\n1,abcdefg\n", encoding="utf-8")
    env = _env(tmp_path / "cache", SEEDBED_MODELS=str(models))
    first = run_cli("validate", str(seeds), env=env)
    assert first.returncode == 1 and "code_length" in first.stdout
    # the same size and modification time: written within the file system's clock tick,
    # or by a tool that keeps times (``rsync -t``, an unpacked archive)
    shelf = models / "shelf.py"
    stamp = shelf.stat()
    shelf.write_text(SHELF.replace("1, 5)", "1, 9)"), encoding="utf-8")
    os.utime(shelf, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    again = run_cli("validate", str(seeds), env=env)
    assert again.returncode == 0, again.stdout
    assert len(list((tmp_path / "cache").glob("model-*.pickle"))) == 2


def test_a_model_whose_check_needs_the_database_is_read_every_time(tmp_path: Path) -> None:
    models = model_folder(tmp_path / "models", shelf=SHELF, tagged=TAGGED)
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "shelf.csv").write_text("id,code\n1,abc\n", encoding="utf-8")
    env = _env(tmp_path / "cache", SEEDBED_MODELS=str(models))
    for _ in range(2):
        assert "sqlalchemy" in _validated(seeds, env)
    assert snapshot._read(_stored(tmp_path / "cache")) == ({}, False)  # stored as not kept


def test_a_snapshot_that_cannot_be_read_is_passed_over_and_written_again(tmp_path: Path) -> None:
    env = _env(tmp_path / "cache")
    seeds = INVALID / "bad_email"
    _validated(seeds, env)
    found = _stored(tmp_path / "cache")
    found.write_bytes(found.read_bytes()[:100])  # torn
    assert snapshot._read(found) is None
    assert "sqlalchemy" in _validated(seeds, env)
    assert "sqlalchemy" not in _validated(seeds, env)
    report = run_cli("validate", str(seeds), env=env)
    assert report.returncode == 1 and "ck_user_email_format" in report.stdout


def test_a_process_that_has_imported_the_model_reads_it_and_stores_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A notebook's kernel keeps the model it imported, which may be older than its files."""
    monkeypatch.setenv("SEEDBED_CACHE", str(tmp_path / "cache"))
    assert stored_tables() is None  # this process has imported the shipped model
    models = model_folder(tmp_path / "models", shelf=SHELF)
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "shelf.csv").write_text("id,code\n1,abcdefg\n", encoding="utf-8")
    tables = stored_tables(models)  # not imported yet: read, and stored
    assert tables is not None and not isinstance(tables["shelf"], StoredTable)
    (models / "shelf.py").write_text(SHELF.replace("1, 5)", "1, 9)"), encoding="utf-8")
    assert stored_tables(models) is None
    assert not seedbed.validate(seeds, models=models).ok  # still the model it imported
    assert len(list((tmp_path / "cache").glob("model-*.pickle"))) == 1
    env = _env(tmp_path / "cache", SEEDBED_MODELS=str(models))
    again = run_cli("validate", str(seeds), env=env)
    assert again.returncode == 0, again.stdout  # a new process reads the files as they are


def test_what_a_stored_table_does_not_hold_is_read_from_the_declaration(tmp_path: Path) -> None:
    _validated(INVALID / "bad_email", _env(tmp_path / "cache"))
    found = snapshot._read(_stored(tmp_path / "cache"))
    assert found is not None
    user = found[0]["user"]
    with pytest.raises(AttributeError):
        user.primary_key  # noqa: B018 (nothing to read it from yet)
    user.declared = snapshot._declared(None, "user")
    assert "primary_key" not in vars(user)
    assert [c.name for c in user.primary_key.columns] == ["id"]
    with pytest.raises(AttributeError):
        user.no_such_attribute  # noqa: B018


def test_a_snapshot_names_nothing_but_seedbeds_values(tmp_path: Path) -> None:
    found = tmp_path / "model-0.pickle"
    marker = tmp_path / "ran"
    # a pickle that calls a function when read: passed over, never run
    found.write_bytes(pickle.dumps(_Calls(f"open({str(marker)!r}, 'w').close()")))
    assert snapshot._read(found) is None
    assert not marker.exists()


class _Calls:
    def __init__(self, code: str) -> None:
        self.code = code

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return exec, (self.code,)


KEYED = """
import sqlalchemy as sa

from seedbed.models.rules import Length, checks

from .base import Base

token = sa.Table(
    "token",
    Base.metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("secret", sa.Text, key="secret_key", info={"sensitive": True, "doc": "a secret"}),
    *checks(Length("secret_length", ("secret",), "is short", 1, 3)),
)
"""


def _three_runs(seeds: Path, models: Path, cache: Path) -> list[subprocess.CompletedProcess[str]]:
    """``validate --json`` from the declaration (storing the snapshot), from the snapshot,
    and without the cache, each in a fresh process."""
    stored = _env(cache, SEEDBED_MODELS=str(models))
    off = _env(cache.parent / "unused", SEEDBED_MODELS=str(models), SEEDBED_CACHE="off")
    return [run_cli("validate", "--json", str(seeds), env=env) for env in (stored, stored, off)]


def test_a_column_whose_key_is_not_its_name_is_read_by_its_name(tmp_path: Path) -> None:
    """``Table.c`` holds a column by its key: the declaration's verdict crashed on a
    ``KeyError`` where the snapshot, which keeps columns by name, gave one."""
    models = model_folder(tmp_path / "models", token=KEYED)
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "token.csv").write_text("id,secret\n1,abcdef\n", encoding="utf-8")
    runs = _three_runs(seeds, models, tmp_path / "cache")
    for run in runs:
        assert run.returncode == 1, run.stderr
        (problem,) = json.loads(run.stdout)
        assert (problem["rule"], problem["value"]) == ("ck_token_secret_length", "[redacted]")
    assert runs[0].stdout == runs[1].stdout == runs[2].stdout


ZONES = """
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from seedbed.models.rules import checks, later

from .base import Base


class Visit(Base):
    __tablename__ = "visit"
    __table_args__ = checks(later("left_at", "came_at"))

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    came_at = mapped_column(sa.DateTime(timezone=True))
    left_at = mapped_column(sa.DateTime(timezone=False))
"""


def test_a_later_rule_across_time_zones_is_an_error_not_a_crash(tmp_path: Path) -> None:
    """A timestamp later than a timestamptz depends on the session's TimeZone: validation
    says so (exit 2) instead of failing on pandas' ``TypeError`` (exit 70)."""
    models = model_folder(tmp_path / "models", visit=ZONES)
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "visit.csv").write_text(
        "id,came_at,left_at\n1,2024-01-01 10:00:00+00,2024-01-01 11:00:00\n", encoding="utf-8"
    )
    for run in _three_runs(seeds, models, tmp_path / "cache"):
        assert run.returncode == 2, run.stderr
        assert "left_at_after_came_at: came_at is a timestamptz and left_at" in run.stderr


HINTED = """
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Shelf(Base):
    __tablename__ = "shelf"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    code = mapped_column(sa.Uuid, info={"doc": "its code", "example": uuid.UUID(int=1)})
"""


def test_a_column_info_of_any_objects_does_not_keep_the_model_from_the_snapshot(
    tmp_path: Path,
) -> None:
    """Validation reads ``doc`` and ``sensitive`` of a column's ``info``; anything else
    there (an example, a generator's hint) is no reason to read the declaration every time."""
    models = model_folder(tmp_path / "models", shelf=HINTED)
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "shelf.csv").write_text("id,code\n1,abc\n", encoding="utf-8")
    env = _env(tmp_path / "cache", SEEDBED_MODELS=str(models))
    assert "sqlalchemy" in _validated(seeds, env)
    found = snapshot._read(_stored(tmp_path / "cache"))
    assert found is not None and found[1], "stored as not kept"
    assert found[0]["shelf"].c["code"].info == {"doc": "its code", "sensitive": False}
    assert "sqlalchemy" not in _validated(seeds, env)


KEY = """
import sys
from pathlib import Path
from seedbed.facts import snapshot
print(snapshot._key([Path(sys.argv[1])]))
"""


def test_a_new_version_of_the_check_reader_is_a_new_key(tmp_path: Path) -> None:
    """pglast reads a CHECK's SQL into a rule: another version may read it otherwise, so a
    snapshot made with one is not read with the other."""
    model = tmp_path / "model.py"
    model.write_text("x = 1\n", encoding="utf-8")
    reader = tmp_path / "libs" / "pglast"
    reader.mkdir(parents=True)
    (reader / "__init__.py").write_text("__version__ = '1'\n", encoding="utf-8")

    def key(path: str) -> str:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([path, str(ROOT / "src")])}
        done = subprocess.run(
            [sys.executable, "-c", KEY, str(model)],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        )
        return done.stdout.strip()

    first = key(str(tmp_path / "libs"))
    assert key(str(tmp_path / "libs")) == first
    (reader / "__init__.py").write_text("__version__ = '2.0'\n", encoding="utf-8")
    assert key(str(tmp_path / "libs")) != first


KEYED_REFERENCES = """
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Shelf(Base):
    __tablename__ = "shelf"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)


class Box(Base):
    __tablename__ = "box"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    shelf_id = mapped_column("shelf_id", sa.Integer, sa.ForeignKey("shelf.id"), key="shelf")
    n = mapped_column("n", sa.Integer, sa.CheckConstraint("n > 0", name="n_positive"), key="count")
"""


def test_a_foreign_key_and_a_check_of_columns_keyed_otherwise_are_read_by_name(
    tmp_path: Path,
) -> None:
    """A foreign key's columns and a plain CHECK's are the columns' names, as in the seed's
    header: read by key, the model crashed every check of files (and the generator)."""
    models = model_folder(tmp_path / "models", shelves=KEYED_REFERENCES)
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "shelf.csv").write_text("id\n1\n", encoding="utf-8")
    (seeds / "box.csv").write_text("id,shelf_id,n\n1,1,1\n2,9,-1\n", encoding="utf-8")
    runs = _three_runs(seeds, models, tmp_path / "cache")
    for run in runs:
        assert run.returncode == 1, run.stderr
        found = {(p["column"], p["rule"]) for p in json.loads(run.stdout)}
        assert found == {("n", "ck_box_n_positive"), ("shelf_id", "fk_box_shelf_id_shelf")}
    assert runs[0].stdout == runs[1].stdout == runs[2].stdout
    env = _env(tmp_path / "unused", SEEDBED_MODELS=str(models), SEEDBED_CACHE="off")
    made = run_cli("generate", "--rows", "3", str(tmp_path / "made"), env=env)
    assert made.returncode == 0, made.stderr


STEPS = """
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from seedbed.models.rules import checks, later

from .base import Base


class Step(Base):
    __tablename__ = "step"
    __table_args__ = checks(later("n", "id"), later("done", "came_at"))

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    n = mapped_column(sa.Integer)
    came_at = mapped_column(sa.DateTime(timezone=True))
    done = mapped_column(sa.DateTime(timezone=False))
"""


def test_a_later_rule_on_a_column_left_out_of_the_seed_passes(tmp_path: Path) -> None:
    """A column left out is NULL (as text, whatever its type), and NULL passes the rule:
    the comparison crashed with pandas' ``TypeError`` (exit 70)."""
    models = model_folder(tmp_path / "models", step=STEPS)
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "step.csv").write_text("id,came_at\n1,2024-01-01 10:00:00+00\n", encoding="utf-8")
    for run in _three_runs(seeds, models, tmp_path / "cache"):
        assert run.returncode == 0, run.stderr
