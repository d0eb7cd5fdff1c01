"""Which modules are public, each stating its API in ``__all__`` as ``seedbed`` does."""

from __future__ import annotations

import importlib
import inspect
import re
import subprocess
import sys

import pytest

import seedbed

#: The modules a user imports from; everything else in the package is internal.
PUBLIC_MODULES = (
    "seedbed",
    "seedbed.config",
    "seedbed.db",
    "seedbed.docs",
    "seedbed.erd",
    "seedbed.errors",
    "seedbed.explore",
    "seedbed.facts",
    "seedbed.loading",
    "seedbed.migrate",
    "seedbed.models",
    "seedbed.notebook",
    "seedbed.safety",
    "seedbed.synthetic",
    "seedbed.validation",
)


def _stated_in_the_package_docstring() -> tuple[str, ...]:
    paragraph = re.search(r"Public modules, [^:]*:(.*?)\.\s", seedbed.__doc__ or "", re.DOTALL)
    assert paragraph is not None, "the package docstring no longer lists its public modules"
    return tuple(name.strip() for name in paragraph.group(1).split(","))


def test_the_package_docstring_names_exactly_the_public_modules() -> None:
    assert _stated_in_the_package_docstring() == PUBLIC_MODULES


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_a_public_module_lists_its_api_in_all_and_every_name_resolves(name: str) -> None:
    module = importlib.import_module(name)
    names = getattr(module, "__all__", None)
    assert isinstance(names, list | tuple), f"{name} has no __all__"
    assert len(names) == len(set(names)), f"{name}.__all__ repeats a name"
    assert [n for n in names if n.startswith("_")] == []
    assert [n for n in names if not hasattr(module, n)] == []


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_a_public_module_defines_nothing_public_that_its_all_leaves_out(name: str) -> None:
    module = importlib.import_module(name)
    unlisted = [
        attr
        for attr, value in vars(module).items()
        if not attr.startswith("_")
        and (inspect.isfunction(value) or inspect.isclass(value))
        and value.__module__ == name
        and attr not in module.__all__
    ]
    assert unlisted == [], f"make these private (a leading _) or list them in {name}.__all__"


def test_the_package_exports_only_what_public_modules_define() -> None:
    def home(value: object) -> str:
        return str(getattr(value, "__module__", ""))

    exported = {name: home(getattr(seedbed, name)) for name in seedbed.__all__}
    outside = {
        name: where
        for name, where in exported.items()
        if not any(where == m or where.startswith(m + ".") for m in PUBLIC_MODULES[1:])
    }
    assert outside == {}


def test_the_guarded_upgrade_is_the_only_upgrade() -> None:
    from seedbed import migrate, safety

    assert migrate.upgrade.__module__ == "seedbed.migrate"
    assert "upgrade" not in safety.__all__ and not hasattr(safety, "upgrade")
    assert migrate.upgrade_unchecked is not migrate.upgrade


def test_safety_does_not_import_the_migration_verbs_built_on_it() -> None:
    probe = "import sys, seedbed.safety\nprint('seedbed.migrate' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
