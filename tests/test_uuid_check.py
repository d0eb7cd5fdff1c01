"""The ``uuid_v4`` rule's cheap CHECK accepts exactly what its regular expression accepts.

The corpus is evaluated three ways: the rule's SQL and the plain regex CHECK
(``Matches`` with the same pattern) in PostgreSQL, and ``re.fullmatch`` in Python.
The revision that swapped the CHECKs lints without errors on a loaded namespace.
"""

from __future__ import annotations

import random
import re
import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from seedbed import migrate, safety
from seedbed.config import Settings
from seedbed.db import get_engine, schema_of
from seedbed.models.rules import UUID_V4, Matches, uuid_v4
from tests.helpers import counts, sql_verdicts

HYPHENS = (8, 13, 18, 23)
REVISION = "84be5139b8e0"  # replaces the regex CHECKs with the cheap ones
ALPHABET = "0123456789abcdefABCDEFgxz-_% \n\t.٣３²é"


def valid_ids(rng: random.Random, n: int) -> list[str]:
    return [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(n)]


def edits(value: str) -> list[str]:
    """Every near miss of one valid id that the corpus is asked to cover."""
    found = [value.upper(), value[:35], value + "0", "0" + value, value[1:] + "-"]
    found += [value.replace("-", "", 1), value[:8] + "--" + value[9:], value.replace("-", "")]
    found += [f" {value}", f"{value} ", f"{value}\n", f"\n{value}", f"{value}\r\n", "", "-" * 36]
    found += [value[:19] + v + value[20:] for v in "01234567cdefABg-"]  # wrong variants
    found += [value[:14] + v + value[15:] for v in "0123567789abcdef"]  # other versions
    found += [value[:i] + "-" + value[i + 1 :] for i in range(36) if i not in HYPHENS]
    found += [value[:i] + "-" + value[i:] for i in range(37)]  # an extra hyphen
    found += [value[:i] + value[i + 1 :] for i in HYPHENS]  # a missing hyphen
    found += [value.replace(d, c, 1) for d in "0123456789" for c in "٣３²" if d in value]
    found += [value[:i] + value[i].upper() + value[i + 1 :] for i in range(36)]
    return found


def corpus(seed: int = 20261125) -> list[str]:
    rng = random.Random(seed)
    good = valid_ids(rng, 200)
    values = good + [str(uuid.UUID(int=rng.getrandbits(128), version=v)) for v in range(1, 6)]
    for value in good[:5]:
        values += edits(value)
    for _ in range(5000):
        value = list(rng.choice(good))
        position = rng.randrange(len(value) + 1)
        action = rng.choice(("replace", "insert", "delete"))
        if action == "insert":
            value.insert(position, rng.choice(ALPHABET))
        elif position < len(value):
            if action == "replace":
                value[position] = rng.choice(ALPHABET)
            else:
                del value[position]
        values.append("".join(value))
    return values


def test_the_cheap_check_accepts_exactly_what_the_regex_accepts(engine: Engine) -> None:
    values = corpus()
    new = sql_verdicts(engine, uuid_v4("id").sql, "id", values)
    old = sql_verdicts(engine, Matches("id_uuid_v4", ("id",), "", UUID_V4).sql, "id", values)
    python = [re.fullmatch(UUID_V4, value) is not None for value in values]
    differing = [
        (v, n, o, p) for v, n, o, p in zip(values, new, old, python, strict=True) if not n == o == p
    ]
    assert differing == []
    assert 300 < sum(python) < len(values) - 3000  # both verdicts are well represented


def test_the_rule_keeps_its_pattern_and_renders_the_cheap_sql() -> None:
    assert "%" in uuid_v4("id").sql and "~ '^(" not in uuid_v4("id").sql
    assert uuid_v4("id").pattern == UUID_V4


def test_null_passes_the_check(engine: Engine) -> None:
    with engine.connect() as conn:
        verdict = conn.execute(sa.text(f"SELECT {uuid_v4('id').sql} FROM (SELECT NULL AS id) t"))
        assert verdict.scalar_one() is None  # NULL: a CHECK passes it


@pytest.mark.parametrize("bad", ["0b3cbf6c-7f4c-4b8a-9d36-1e1f0b57d24", "not-a-uuid"])
def test_the_database_refuses_a_bad_id_naming_the_rule(engine: Engine, bad: str) -> None:
    insert = sa.text(f'INSERT INTO "{schema_of(engine)}"."user" (id, email) VALUES (:id, :email)')
    with pytest.raises(sa.exc.IntegrityError) as caught, engine.begin() as conn:
        conn.execute(insert, {"id": bad, "email": "a@example.com"})
    assert caught.value.orig.diag.constraint_name == "ck_user_id_uuid_v4"
    with engine.begin() as conn:
        conn.execute(insert, {"id": "0b3cbf6c-7f4c-4b8a-9d36-1e1f0b57d24e", "email": "a@b.io"})


def test_the_revision_lints_without_errors_and_keeps_the_rows(populated: Settings) -> None:
    """On a loaded namespace the swap only warns (each CHECK scans its table once)."""
    engine = get_engine(populated)
    rows = counts(engine)
    migrate.downgrade(populated, f"{REVISION}-1")
    report = safety.lint(populated, target=REVISION)
    assert report.revisions == (REVISION,) and report.ok, report.render()
    assert {(f.rule, f.severity.value) for f in report} == {
        ("constraint-missing-not-valid", "warning")
    }
    assert len(report.findings) == 6
    migrate.upgrade_unchecked(populated)
    assert migrate.check(populated) == [] and counts(engine) == rows
