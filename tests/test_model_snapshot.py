"""The model's facts kept between runs (``seedbed.facts.snapshot``): a check of files reads
them back without SQLAlchemy, gives the verdicts the declaration gives, and never a stale
snapshot's."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest

import seedbed
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


def _rows(report: seedbed.ValidationReport) -> list[dict[str, object]]:
    return sorted(report.failures.astype(str).to_dict("records"), key=str)


@pytest.mark.parametrize(
    "case", sorted(p.name for p in INVALID.iterdir() if p.is_dir() and p.name != "inputs")
)
def test_the_snapshot_gives_the_declarations_verdicts(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEEDBED_CACHE", str(tmp_path / "cache"))
    stored_tables()  # stores it
    tables = stored_tables()
    assert tables is not None and all(isinstance(t, StoredTable) for t in tables.values())
    from_snapshot = seedbed.validate(INVALID / case)
    monkeypatch.setenv("SEEDBED_CACHE", "off")
    declared = seedbed.validate(INVALID / case)
    assert not declared.ok
    assert _rows(from_snapshot) == _rows(declared)


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


def test_a_model_whose_check_needs_the_database_is_read_every_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    models = model_folder(tmp_path / "models", shelf=SHELF, tagged=TAGGED)
    monkeypatch.setenv("SEEDBED_CACHE", str(tmp_path / "cache"))
    first = stored_tables(models)
    assert first is not None and not isinstance(first["tagged"], StoredTable)
    assert stored_tables(models) is None  # kept as "not kept": the caller reads the model
    assert len(list((tmp_path / "cache").glob("model-*.pickle"))) == 1


def test_a_snapshot_that_cannot_be_read_is_passed_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEEDBED_CACHE", str(tmp_path / "cache"))
    stored_tables()
    (found,) = (tmp_path / "cache").glob("model-*.pickle")
    found.write_bytes(found.read_bytes()[:100])  # torn
    tables = stored_tables()
    assert tables is not None and not isinstance(tables["user"], StoredTable)
    report = seedbed.validate(INVALID / "bad_email")
    assert list(report.failures["rule"]) == ["ck_user_email_format"]
    assert isinstance(stored_tables()["user"], StoredTable)  # written again


def test_what_a_stored_table_does_not_hold_is_read_from_the_declaration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEEDBED_CACHE", str(tmp_path / "cache"))
    stored_tables()
    tables = stored_tables()
    assert tables is not None
    user = tables["user"]
    assert isinstance(user, StoredTable)
    assert "primary_key" not in vars(user)
    assert [c.name for c in user.primary_key.columns] == ["id"]
    with pytest.raises(AttributeError):
        user.no_such_attribute  # noqa: B018


def test_a_snapshot_names_nothing_but_seedbeds_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEEDBED_CACHE", str(tmp_path / "cache"))
    stored_tables()
    (found,) = (tmp_path / "cache").glob("model-*.pickle")
    marker = tmp_path / "ran"
    # a pickle that calls a function when read: passed over, never run
    found.write_bytes(pickle.dumps(_Calls(f"open({str(marker)!r}, 'w').close()")))
    tables = stored_tables()
    assert tables is not None and not isinstance(tables["user"], StoredTable)
    assert not marker.exists()


class _Calls:
    def __init__(self, code: str) -> None:
        self.code = code

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return exec, (self.code,)


def test_a_folder_changed_after_this_process_imported_it_is_not_stored_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A notebook's kernel keeps the model it imported; the snapshot of the files as they
    are now must not be that model."""
    models = model_folder(tmp_path / "models", shelf=SHELF)
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "shelf.csv").write_text("id,code\n1,abcdefg\n", encoding="utf-8")
    monkeypatch.setenv("SEEDBED_CACHE", str(tmp_path / "cache"))
    assert not seedbed.validate(seeds, models=models).ok  # this process imports the folder
    (models / "shelf.py").write_text(SHELF.replace("1, 5)", "1, 9)"), encoding="utf-8")
    assert not seedbed.validate(seeds, models=models).ok  # still the model it imported
    assert len(list((tmp_path / "cache").glob("model-*.pickle"))) == 1
    again = run_cli(
        "validate", str(seeds), env=_env(tmp_path / "cache", SEEDBED_MODELS=str(models))
    )
    assert again.returncode == 0, again.stdout  # a new process reads the files as they are
