"""The layers contract: imports flow one way, from the command line down to the leaves.

The contract itself is ``[tool.importlinter]`` in ``pyproject.toml``; the same
picture is drawn in ``docs/architecture.md``. Function-level imports count;
imports under ``typing.TYPE_CHECKING`` are the one exception.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import grimp
import pytest
from importlinter.api import read_configuration
from importlinter.contracts.layers import LayersContract
from importlinter.domain.contract import ContractCheck

from tests.helpers import ROOT

#: The contracts as import-linter reads them from pyproject.toml.
_CONFIG = read_configuration(str(ROOT / "pyproject.toml"))


def _graph() -> grimp.ImportGraph:
    return grimp.build_graph("seedbed", exclude_type_checking_imports=True, cache_dir=None)


@pytest.fixture
def graph() -> grimp.ImportGraph:
    return _graph()


def _contract(options: dict[str, Any]) -> LayersContract:
    fields = {key: value for key, value in options.items() if key not in {"name", "type", "id"}}
    return LayersContract(
        name=options["name"], session_options=_CONFIG["session_options"], contract_options=fields
    )


def _layer_contracts() -> list[dict[str, Any]]:
    return [c for c in _CONFIG["contracts_options"] if c["type"] == "layers"]


def _broken(check: ContractCheck) -> list[str]:
    chains = []
    for dependency in check.metadata.get("invalid_dependencies", []):
        for route in dependency["routes"]:
            for chain in route["chain"]:
                chains.append(f"{chain['importer']} -> {chain['imported']}")
    return chains


@pytest.mark.parametrize("options", _layer_contracts(), ids=lambda c: c["id"])
def test_no_import_runs_back_up_a_layer(graph: grimp.ImportGraph, options: dict[str, Any]) -> None:
    check = _contract(options).check(graph, verbose=False)
    assert check.kept, "imports that run back up: " + "; ".join(_broken(check))


def test_the_contract_fails_on_an_import_that_runs_back_up() -> None:
    options = _layer_contracts()[0]
    upward = _graph()
    upward.add_import(
        importer="seedbed.errors", imported="seedbed.cli", line_number=1, line_contents="import"
    )
    check = _contract(options).check(upward, verbose=False)
    assert not check.kept
    assert "seedbed.errors -> seedbed.cli" in _broken(check)


def _imported_by(graph: grimp.ImportGraph, module: str) -> Iterator[str]:
    return iter(sorted(graph.find_modules_directly_imported_by(module)))


def _cycles(graph: grimp.ImportGraph) -> Iterator[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, _imported_by(graph, root))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append(
                        (child, iter(sorted(graph.find_modules_directly_imported_by(child))))
                    )
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    yield sorted(component)


def test_no_import_cycles(graph: grimp.ImportGraph) -> None:
    assert list(_cycles(graph)) == []


def test_the_cycle_finder_sees_a_cycle() -> None:
    looped = _graph()
    looped.add_import(
        importer="seedbed.errors", imported="seedbed.config", line_number=1, line_contents="import"
    )
    assert ["seedbed.config", "seedbed.errors"] in list(_cycles(looped))


def _picture() -> list[str]:
    """The layers drawn in docs/architecture.md, top first (the block after 'Layers')."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    block = re.search(r"<!-- layers -->\s*```\w*\n(.*?)```", text, re.DOTALL)
    assert block, "docs/architecture.md has no <!-- layers --> block"
    return [line.strip() for line in block.group(1).splitlines() if line.strip()]


def test_the_architecture_page_draws_the_contract() -> None:
    assert _picture() == _layer_contracts()[0]["layers"]
