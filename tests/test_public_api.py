"""The public surface: ``seedbed.__all__`` lists exactly what the package exports."""

from __future__ import annotations
import __future__

import subprocess
import sys
import types

import pytest

import seedbed


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


def _imported_after(code: str) -> set[str]:
    """The modules a fresh interpreter has loaded after running ``code``."""
    probe = f"{code}\nimport sys\nprint(' '.join(sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(done.stdout.split())


def test_importing_seedbed_leaves_the_heavy_parts_until_they_are_used() -> None:
    loaded = _imported_after("import seedbed")
    assert not loaded & {"seedbed.explore", "seedbed.loading", "seedbed.validation", "pandas"}
    loaded = _imported_after("import seedbed\nseedbed.load")
    assert "seedbed.loading" in loaded and "seedbed.explore" not in loaded


def test_the_command_line_and_the_loader_leave_migrations_and_pandera_until_used() -> None:
    code = "from seedbed.cli import build_parser\nbuild_parser()\nimport seedbed.loading.load"
    loaded = _imported_after(code)
    assert not loaded & {"alembic", "seedbed.migrate", "seedbed.safety", "seedbed.explore"}
    assert "pandera" not in loaded  # imported by the first schema built, in validation
    loaded = _imported_after("import seedbed\nseedbed.pandera_schema('user')")
    assert "pandera" in loaded
