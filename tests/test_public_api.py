"""The public surface: ``seedbed.__all__`` lists exactly what the package exports."""

from __future__ import annotations
import __future__

import types

import seedbed


def test_all_names_exist() -> None:
    missing = [name for name in seedbed.__all__ if not hasattr(seedbed, name)]
    assert missing == []


def test_every_public_export_is_listed_in_all() -> None:
    exported = {
        name
        for name, value in vars(seedbed).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType | __future__._Feature)
    }
    assert exported == set(seedbed.__all__)


def test_all_is_sorted_and_unique() -> None:
    assert list(seedbed.__all__) == sorted(set(seedbed.__all__))
