"""Load modes and strategies are policies: every branch point asks a property, the CLI the enum."""

from __future__ import annotations

import argparse
import re

import psycopg
import pytest

import seedbed.loading
from seedbed.cli import build_parser
from seedbed.errors import SeedError
from seedbed.loading.failures import is_retryable
from seedbed.loading.modes import merge_sql
from seedbed.loading.plan import _why_not_rebuild
from seedbed.loadmode import LoadMode, MergeAction, Strategy, spoken
from seedbed.models import metadata
from tests.helpers import ROOT

SRC = ROOT / "src" / "seedbed"

#: mode: (merge, stages, existing keys are errors, can rebuild, retries a unique violation)
MODES = {
    LoadMode.INSERT: (MergeAction.NONE, False, True, True, False),
    LoadMode.UPSERT: (MergeAction.UPDATE, True, False, False, True),
    LoadMode.SKIP_EXISTING: (MergeAction.SKIP, True, False, False, True),
}

#: strategy: (may rebuild, must rebuild)
STRATEGIES = {
    Strategy.AUTO: (True, False),
    Strategy.REBUILD: (True, True),
    Strategy.INCREMENTAL: (False, False),
}


@pytest.mark.parametrize("mode", list(LoadMode))
def test_every_mode_states_its_policy(mode: LoadMode) -> None:
    assert mode in MODES, f"add {mode.value} to the table above with its policy"
    policy = (
        mode.merge,
        mode.stages,
        mode.existing_keys_are_errors,
        mode.can_rebuild,
        mode.retries_unique_violation,
    )
    assert policy == MODES[mode]


@pytest.mark.parametrize("strategy", list(Strategy))
def test_every_strategy_states_its_policy(strategy: Strategy) -> None:
    assert strategy in STRATEGIES, f"add {strategy.value} to the table above with its policy"
    assert (strategy.may_rebuild, strategy.must_rebuild) == STRATEGIES[strategy]


def test_modes_keep_their_public_names_and_values() -> None:
    assert [mode.value for mode in LoadMode] == ["insert", "upsert", "skip-existing"]
    assert [strategy.value for strategy in Strategy] == ["auto", "rebuild", "incremental"]
    assert LoadMode.parse("upsert") is LoadMode.UPSERT == "upsert"
    assert LoadMode.parse(LoadMode.SKIP_EXISTING) is LoadMode.SKIP_EXISTING
    assert seedbed.loading.LoadMode is LoadMode
    with pytest.raises(SeedError, match="unknown load mode 'merge': use one of insert, upsert, "):
        LoadMode.parse("merge")
    with pytest.raises(SeedError, match="unknown load strategy 'fast': use one of auto, rebuild"):
        Strategy.parse("fast")


def _option(parser: argparse.ArgumentParser, command: str, flag: str) -> argparse.Action:
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    sub = commands.choices[command]
    return next(action for action in sub._actions if flag in action.option_strings)


@pytest.mark.parametrize(
    ("command", "flag", "choice"),
    [
        ("load", "--mode", LoadMode),
        ("load", "--strategy", Strategy),
        ("validate", "--mode", LoadMode),
    ],
)
def test_the_cli_takes_its_choices_and_help_from_the_enum(
    command: str, flag: str, choice: type[LoadMode] | type[Strategy]
) -> None:
    option = _option(build_parser(), command, flag)
    assert list(option.choices or ()) == choice.choices()
    assert option.default == choice.choices()[0]
    for member in choice:
        assert member.value in (option.help or "")


def test_the_cli_help_lists_read_as_before() -> None:
    parser = build_parser()
    assert _option(parser, "load", "--mode").help == (
        "insert (conflicts are errors, the default), upsert or skip-existing"
    )
    assert _option(parser, "load", "--strategy").help == (
        "auto (the default: rebuild empty tables, COPY into the others as they are), "
        "rebuild (drop constraints and indexes, COPY, rebuild them validated; empty tables "
        "only) or incremental"
    )
    assert _option(parser, "validate", "--mode").help == (
        "the verdict `seedbed load --mode M` would give: with --against-db, insert "
        "flags keys already in the database, upsert and skip-existing do not (default insert)"
    )


def test_spoken_lists_words_as_a_sentence() -> None:
    assert spoken([]) == ""
    assert spoken(["insert"]) == "insert"
    assert spoken(["upsert", "skip-existing"], "and") == "upsert and skip-existing"
    assert spoken(["a", "b", "c"]) == "a, b or c"


@pytest.mark.parametrize("mode", [mode for mode in LoadMode if mode.stages])
def test_the_merge_does_what_the_mode_says(mode: LoadMode) -> None:
    user = metadata.tables[f"{metadata.schema}.user"]
    sql = merge_sql(user, ["id", "email", "name"], ["id"], mode)
    assert ("DO UPDATE SET" in sql) is (mode.merge is MergeAction.UPDATE)
    assert ("DO NOTHING" in sql) is (mode.merge is MergeAction.SKIP)


@pytest.mark.parametrize("mode", list(LoadMode))
def test_a_unique_violation_is_retried_as_the_mode_says(mode: LoadMode) -> None:
    violation = psycopg.errors.UniqueViolation("duplicate key")
    retry = mode.retries_unique_violation
    assert is_retryable(violation, retry_unique=retry) is retry
    assert not is_retryable(violation, violation, retry_unique=retry)  # the same one again
    assert is_retryable(psycopg.errors.DeadlockDetected("deadlock"), retry_unique=retry)


@pytest.mark.parametrize("mode", list(LoadMode))
def test_rebuild_is_refused_as_the_mode_says(mode: LoadMode) -> None:
    why_not = _why_not_rebuild('"seedbed"."user"', (), set(), mode)
    if mode.can_rebuild:
        assert why_not is None
    else:
        assert why_not == f"the rebuild strategy is for insert mode, not {mode.value}"


#: A member compared by identity or equality, or a mode spelled as a string and compared.
_COMPARED = re.compile(
    r"(?:\bis(?: not)?|[!=]=)\s+(?:LoadMode|Strategy\.AUTO)\b"
    r"|(?:[!=]=)\s*[\"'](?:insert|upsert|skip-existing|auto)[\"']"
)


def test_no_branch_point_compares_a_mode_with_a_member() -> None:
    """Outside the policy module, code asks a property; so a new mode is one member there."""
    found = [
        f"{path.relative_to(SRC)}:{number}: {line.strip()}"
        for path in sorted(SRC.rglob("*.py"))
        if path.name != "loadmode.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if _COMPARED.search(line)
    ]
    assert found == []
