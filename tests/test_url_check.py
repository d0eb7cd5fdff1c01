"""The ``url`` rule's cheap CHECK accepts exactly what its regular expression accepts.

The corpus is evaluated three ways: the rule's SQL and the plain regex CHECK
(``Matches`` with the same pattern) in PostgreSQL, and ``re.fullmatch`` in Python.
The revision that swapped the CHECK lints without errors on a loaded namespace.
"""

from __future__ import annotations

import random
import re

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from seedbed import migrate, safety
from seedbed.config import Settings
from seedbed.db import get_engine, schema_of
from seedbed.models.rules import URL, Matches, url
from tests.helpers import counts, sql_verdicts

REVISION = "2084c7dd945d"  # replaces the regex CHECK of user.image with the cheap one
#: What the edits insert: the URL's own separators, characters no URL part takes, and
#: characters outside printable ASCII (white space, controls, accents, wide digits).
ALPHABET = "aZ09.-_:/?#@%!~[] \t\n\r\x7f\x01é\u0663\uff13"
HOST = "abcxyzABCXYZ0189.-"


def valid_urls(rng: random.Random, n: int) -> list[str]:
    found = []
    for _ in range(n):
        host = "".join(rng.choice(HOST) for _ in range(rng.randint(1, 12)))
        port = f":{rng.randint(0, 99999)}"[: rng.randint(2, 6)] if rng.random() < 0.3 else ""
        tail = "".join(chr(rng.randint(33, 126)) for _ in range(rng.randint(0, 12)))
        rest = rng.choice("/?#") + tail if rng.random() < 0.8 else ""
        found.append(f"{rng.choice(('http', 'https'))}://{host}{port}{rest}")
    return found


def edits(value: str) -> list[str]:
    """Near misses of one valid URL the corpus is asked to cover."""
    cut = value.index("//") + 2
    found = [value.upper(), value.replace("http", "ftp", 1), value[:cut], value[: cut - 1]]
    found += [f" {value}", f"{value} ", f"{value}\n", value[:cut] + ":80", value[:cut] + "/x"]
    found += [value[:cut] + "h" + c + "t/x" for c in "_@!~ %:"]  # a character no host takes
    found += [value[:cut] + f"h:{port}" + end for port in ("", "1", "123456") for end in "/?#"]
    found += [value[:cut] + "h:12" + c for c in "x:@ "]  # a port that does not end well
    found += ["http:/" + value[cut - 1 :], "https:" + value[cut:], "http//" + value[cut:]]
    return found


def corpus(seed: int = 20261206) -> list[str]:
    rng = random.Random(seed)
    good = valid_urls(rng, 300)
    values = list(good)
    for value in good[:20]:
        values += edits(value)
    for _ in range(6000):
        value = list(rng.choice(good))
        for _ in range(rng.randint(1, 2)):
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
    values = [v.replace("\x00", "") for v in corpus()]
    new = sql_verdicts(engine, url("image").sql, "image", values)
    old = sql_verdicts(engine, Matches("image_url", ("image",), "", URL).sql, "image", values)
    python = [re.fullmatch(URL, value) is not None for value in values]
    differing = [
        (v, n, o, p) for v, n, o, p in zip(values, new, old, python, strict=True) if not n == o == p
    ]
    assert differing == []
    assert 1000 < sum(python) < len(values) - 1000  # both verdicts are well represented


def test_the_rule_keeps_its_pattern_and_renders_the_cheap_sql() -> None:
    assert "split_part" in url("image").sql and "~ '^(" not in url("image").sql
    assert url("image").pattern == URL


def test_null_passes_the_check(engine: Engine) -> None:
    with engine.connect() as conn:
        verdict = conn.execute(sa.text(f"SELECT {url('image').sql} FROM (SELECT NULL AS image) t"))
        assert verdict.scalar_one() is None  # NULL: a CHECK passes it


@pytest.mark.parametrize("bad", ["https://a_b.example/x", "http://host:123456", "ftp://h/x"])
def test_the_database_refuses_a_bad_url_naming_the_rule(engine: Engine, bad: str) -> None:
    insert = sa.text(
        f'INSERT INTO "{schema_of(engine)}"."user" (id, email, image) VALUES (:id, :email, :image)'
    )
    row = {"id": "7c0e1f9a-3b2d-4e5f-a6b7-c8d9e0f1a2b3", "email": "url@b.io"}
    with pytest.raises(sa.exc.IntegrityError) as caught, engine.begin() as conn:
        conn.execute(insert, {**row, "image": bad})
    assert caught.value.orig.diag.constraint_name == "ck_user_image_url"
    with engine.begin() as conn:
        conn.execute(insert, {**row, "image": "https://a-b.example:8080/x?y#z"})
        delete = sa.text(f'DELETE FROM "{schema_of(engine)}"."user" WHERE id = :id')
        assert conn.execute(delete, {"id": row["id"]}).rowcount == 1


def test_the_revision_lints_without_errors_and_keeps_the_rows(populated: Settings) -> None:
    """On a loaded namespace the swap only warns (the CHECK scans its table once)."""
    engine = get_engine(populated)
    rows = counts(engine)
    migrate.downgrade(populated, f"{REVISION}-1")
    report = safety.lint(populated)
    assert report.revisions == (REVISION,) and report.ok, report.render()
    assert {(f.rule, f.severity.value) for f in report} == {
        ("constraint-missing-not-valid", "warning")
    }
    migrate.upgrade_unchecked(populated)
    assert migrate.check(populated) == [] and counts(engine) == rows
