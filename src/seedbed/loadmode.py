"""Load modes and load strategies as policies: members that say what a load does.

The loader, validation and the command line ask a member's properties and
never compare it with another member, so a new mode is one member here plus
its tests. The SQL that stages and merges rows is :mod:`seedbed.loading.modes`'s
business; this module is a leaf, below validation and loading both.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Self

from seedbed.errors import SeedError


def spoken(words: Sequence[str], last: str = "or") -> str:
    """``a, b or c``: words as a sentence lists them."""
    if len(words) < 2:
        return "".join(words)
    return f"{', '.join(words[:-1])} {last} {words[-1]}"


class Choice(enum.StrEnum):
    """A load option given by name; ``parse`` refuses an unknown name with a SeedError.

    Each member carries a ``note``, the few words the CLI's help shows after its name.
    """

    _value_: str
    note: str

    def __new__(cls, value: str, note: str = "") -> Self:
        member = str.__new__(cls, value)
        member._value_ = value
        member.note = note
        return member

    @classmethod
    def _noun(cls) -> str:
        return cls.__name__.removeprefix("Load").lower()

    @classmethod
    def parse(cls, value: str | Self) -> Self:
        try:
            return cls(value)
        except ValueError:
            raise SeedError(
                f"unknown load {cls._noun()} {value!r}: use one of {', '.join(cls.choices())}"
            ) from None

    @classmethod
    def choices(cls) -> list[str]:
        """Every member's name, in declaration order: what ``--mode`` and ``--strategy`` accept."""
        return [member.value for member in cls]

    @classmethod
    def described(cls) -> str:
        """The members as the CLI's help lists them, each with its note."""
        return spoken([f"{m.value} ({m.note})" if m.note else m.value for m in cls])


class MergeAction(enum.Enum):
    """What a merge does with a staged row whose key the table already has."""

    NONE = "none"  # no merge: rows are copied straight into the table
    UPDATE = "update"  # the row takes the staged values where they differ
    SKIP = "skip"  # the row stays as it is


@dataclass(frozen=True)
class ModePolicy:
    """What a load mode does, as :class:`LoadMode` members declare it."""

    merge: MergeAction
    existing_keys_are_errors: bool
    can_rebuild: bool


class LoadMode(Choice):
    """How rows meet the rows already in their table.

    ``insert`` COPYs straight into the table and any conflict is an error;
    ``upsert`` and ``skip-existing`` stage the rows and merge them.
    """

    policy: ModePolicy

    def __new__(cls, value: str, policy: ModePolicy, note: str = "") -> Self:
        member = str.__new__(cls, value)
        member._value_ = value
        member.policy = policy
        member.note = note
        return member

    INSERT = (
        "insert",
        ModePolicy(MergeAction.NONE, existing_keys_are_errors=True, can_rebuild=True),
        "conflicts are errors, the default",
    )
    UPSERT = (
        "upsert",
        ModePolicy(MergeAction.UPDATE, existing_keys_are_errors=False, can_rebuild=False),
    )
    SKIP_EXISTING = (
        "skip-existing",
        ModePolicy(MergeAction.SKIP, existing_keys_are_errors=False, can_rebuild=False),
    )

    @property
    def merge(self) -> MergeAction:
        """What the merge does with a key the table already has (``NONE``: no merge)."""
        return self.policy.merge

    @property
    def stages(self) -> bool:
        """Rows are COPYd into a staging table and merged from there, as a merge needs."""
        return self.policy.merge is not MergeAction.NONE

    @property
    def existing_keys_are_errors(self) -> bool:
        """A key already in the database is a problem in the report, not a row to merge."""
        return self.policy.existing_keys_are_errors

    @property
    def can_rebuild(self) -> bool:
        """The rebuild strategy may write this mode's tables (it is for new rows only)."""
        return self.policy.can_rebuild

    @property
    def retries_unique_violation(self) -> bool:
        """A unique violation may be a concurrent load's commit, seen on a second try.

        ``ON CONFLICT`` arbitrates on one key, so a row another load just
        committed can violate another unique key; run again, it is merged.
        """
        return self.stages


class Strategy(Choice):
    """How a table is written: ``rebuild`` (empty tables), ``incremental``, or ``auto``."""

    AUTO = "auto", "the default: rebuild empty tables, COPY into the others as they are"
    REBUILD = (
        "rebuild",
        "drop constraints and indexes, COPY, rebuild them validated; empty tables only",
    )
    INCREMENTAL = "incremental"

    @property
    def may_rebuild(self) -> bool:
        """Tables that can be rebuilt are."""
        return self is not Strategy.INCREMENTAL

    @property
    def must_rebuild(self) -> bool:
        """A table that cannot be rebuilt is an error, not written incrementally."""
        return self is Strategy.REBUILD


__all__ = ["Choice", "LoadMode", "MergeAction", "ModePolicy", "Strategy", "spoken"]
