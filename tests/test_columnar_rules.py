"""Comparisons, lists and patterns (the rule kinds a CHECK read from a catalog becomes) are
judged in Polars: through both row engines they give PostgreSQL's verdict on values either
side of each rule and on NULL, and a valid seed set of them is checked without pandas."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import polars as pl
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from seedbed.config import Settings
from seedbed.db import get_engine
from seedbed.facts import declared_metadata, model_source, table_spec, using_models
from seedbed.facts.catalog import ascii_case_only
from seedbed.validation import SeedValidator, ValidationReport, read_seed_chunks, resolve_sources
from seedbed.validation.rowchecks import ROW_ENGINES
from seedbed.validation.schemas import polars_chunk_schema
from tests.helpers import model_folder, validated_with

#: A table whose CHECKs are each a kind compiled to Polars; each (name, expression, types).
RULES = [
    ("amount_min", "amount >= 0.01", {"amount": "numeric"}),
    ("amount_max", "amount <= 1000000", {"amount": "numeric"}),
    ("qty_few", "qty < 100", {"qty": "integer"}),
    ("qty_listed", "qty NOT IN (13, 666)", {"qty": "integer"}),
    ("ratio_max", "ratio <= 1.5", {"ratio": "double precision"}),
    ("day_recent", "day >= '2020-01-01'", {"day": "date"}),
    ("day_before_noon", "day < '2030-01-01 12:00:00'::timestamp", {"day": "date"}),
    ("at_before", "at < '2030-01-01 00:00:00+00'", {"at": "timestamp with time zone"}),
    ("ends_after", "ends_at > starts_at", {"ends_at": "timestamp", "starts_at": "timestamp"}),
    ("code_shape", "code ~ '^[A-Z]{2}[0-9]+$'", {"code": "text"}),
    ("code_not_zero", "code !~* '^zz'", {"code": "text"}),
    ("name_given", "char_length(btrim(name)) > 0", {"name": "text"}),
    ("name_short", "octet_length(name) <= 8", {"name": "text"}),
    ("name_lower", "name = lower(name)", {"name": "text"}),
    ("status_known", "status IN ('new', 'done')", {"status": "text"}),
    ("sku_prefix", "sku LIKE 'SKU-%'", {"sku": "text"}),
    ("sku_no_x", "sku NOT ILIKE '%x%'", {"sku": "text"}),
    ("tag_similar", "tag SIMILAR TO '(ab|cd)+'", {"tag": "text"}),
    ("cur_upper", "cur = upper(cur)", {"cur": "character(3)"}),
    ("flag_on", "flag = true OR qty IS NULL", {"flag": "boolean", "qty": "integer"}),
    ("big_below", "big < 9007199254740993", {"big": "bigint"}),
    ("small_above", "small > 0.1", {"small": "real"}),
]

MODEL = """
import datetime as dt
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from seedbed.facts.checksql import rules_from_check
from seedbed.models.rules import checks

from .base import Base

RULES = {rules!r}


class Ledger(Base):
    __tablename__ = "ledger"
    __table_args__ = checks(
        *(
            rules_from_check(expression, types, name=name, codepoint_order=True,
                             ascii_case={ascii_case!r})[0]
            for name, expression, types in RULES
        )
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    amount: Mapped[Decimal | None] = mapped_column(sa.Numeric)
    qty: Mapped[int | None] = mapped_column(sa.Integer)
    ratio: Mapped[float | None] = mapped_column(sa.Double)
    day: Mapped[dt.date | None] = mapped_column(sa.Date)
    at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    starts_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime)
    ends_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime)
    code: Mapped[str | None] = mapped_column(sa.Text)
    name: Mapped[str | None] = mapped_column(sa.Text)
    status: Mapped[str | None] = mapped_column(sa.Text)
    sku: Mapped[str | None] = mapped_column(sa.Text)
    tag: Mapped[str | None] = mapped_column(sa.Text)
    cur: Mapped[str | None] = mapped_column(sa.CHAR(3))
    flag: Mapped[bool | None] = mapped_column(sa.Boolean)
    big: Mapped[int | None] = mapped_column(sa.BigInteger)
    small: Mapped[float | None] = mapped_column(sa.REAL)
"""

HEADER = "id,amount,qty,ratio,day,at,starts_at,ends_at,code,name,status,sku,tag,cur,flag,big,small"
GOOD = (
    "0.01,5,1.5,2020-01-01,2029-12-31 23:59:59+00,2024-01-01 00:00:00,2024-01-02 00:00:00,"
    "AB12,ann,new,SKU-1,abcd,EUR,true,1,1"
)
#: Per column, values either side of its rules (and NULL, the empty field); each makes a row
#: of the good row with that one column changed.
VALUES = {
    "amount": [
        "",
        "0.01",
        "0.010",
        "0.0099999999999999999999",
        "0.0100000000000000000001",
        "0",
        "-0",
        "1e3",
        "Infinity",
        "-Infinity",
        "NaN",
        "0.009",
        "1e6",
        "1000000.00000000000000001",
    ],
    "qty": ["", "99", "100", "-5", "13", "666", "12"],
    "ratio": [
        "",
        "1.5",
        "1.5000000000000002",
        "1.4999999999999998",
        "-Infinity",
        "NaN",
        "Infinity",
    ],
    "day": ["", "2020-01-01", "2019-12-31", "2030-01-01", "2030-01-02", "infinity", "-infinity"],
    "at": [
        "",
        "2029-12-31 23:59:59.999999+00",
        "2030-01-01 00:00:00+00",
        "2030-01-01 01:00:00+01",
        "infinity",
    ],
    "ends_at": ["", "2024-01-01 00:00:00", "2024-01-01 00:00:00.000001", "-infinity", "infinity"],
    "code": ["", "AB1", "ab1", "AB", "ABC1", "zz12", "ZZ12", "AB1\n", "ÄB1"],
    "name": ["", " ", "  x ", "Ann", "ann", "éé", "ÉÉ", "abcdefgh", "abcdefghi", "ééééé", "ß"],
    "status": ["", "new", "done", "New", "old", "new "],
    "sku": ["", "SKU-", "SKU-x", "SKU-X", "sku-1", "SKU-ẋ", "SKU-\n"],
    "tag": ["", "ab", "abcd", "abc", "cdab", "AB", "ab\n"],
    "cur": ["", "EUR", "eur", "EU", "EU ", "Eé"],
    "flag": ["", "true", "false"],
    "big": ["", "9007199254740992", "9007199254740993", "9007199254740994", "-9223372036854775808"],
    "small": ["", "0.1", "0.099999994", "0.10000001", "1e-30", "NaN", "-Infinity"],
}


def _rows() -> list[str]:
    columns = HEADER.split(",")[1:]
    good = GOOD.split(",")
    rows = []
    for column, values in VALUES.items():
        at = columns.index(column)
        for value in values:
            row = list(good)
            row[at] = f'"{value}"' if "\n" in value or " " in value else value
            rows.append(",".join(row))
    rows.append(",".join(["0.01", "", *good[2:-3], "false", "1", "1"]))  # flag false, qty NULL
    rows.append(",".join(["0.01", "5", *good[2:-3], "false", "1", "1"]))  # flag false, qty given
    return [f"{i},{row}" for i, row in enumerate(rows, 1)]


@pytest.fixture
def ledger(tmp_path: Path, base_settings: Settings) -> Path:
    with get_engine(base_settings).connect() as conn:
        ascii_case = ascii_case_only(conn)
    source = MODEL.format(rules=RULES, ascii_case=ascii_case)
    return model_folder(tmp_path / "ledger_models", ledger=source)


def _report(ledger: Path, seeds: Path, engine: str) -> list[dict[str, object]]:
    with using_models(ledger):
        sources = resolve_sources(seeds, str(declared_metadata().schema))
        validator = SeedValidator([s.table for s in sources.values()], row_engine=engine)
        source = sources["ledger"]
        reports = [
            validator.check_chunk(source, c) for c in read_seed_chunks(source, chunk_rows=16)
        ]
        return ValidationReport.concat([*reports, validator.finish()]).sorted().to_records()


def test_every_rule_of_the_ledger_compiles_to_polars(ledger: Path) -> None:
    with using_models(ledger):
        (table,) = declared_metadata().tables.values()
        assert len(table_spec(table).rules) == len(RULES)
        assert polars_chunk_schema(table).on_pandas == ()


def test_both_row_engines_give_postgresqls_verdict_on_each_row(
    ledger: Path, empty_settings: Settings, tmp_path: Path
) -> None:
    engine = get_engine(empty_settings)
    metadata = model_source(ledger).metadata(empty_settings.schema)
    with engine.begin() as conn:
        metadata.create_all(conn)
    rows = _rows()
    refused = set()
    raw = engine.raw_connection()
    try:
        table = f'"{empty_settings.schema}".ledger'
        line = 2  # where the row starts in the file (a quoted newline takes a line)
        for row in rows:
            line += row.count("\n") + 1
            try:
                with (
                    raw.cursor() as cursor,
                    cursor.copy(f"COPY {table} FROM STDIN WITH (FORMAT csv, HEADER true)") as copy,
                ):
                    copy.write(f"{HEADER}\n{row}\n".encode())
            except Exception as exc:  # PostgreSQL's refusal of this row
                assert "check constraint" in str(exc), exc
                refused.add(line - row.count("\n") - 1)
            raw.rollback()
    finally:
        raw.close()
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "ledger.csv").write_text("\n".join([HEADER, *rows]) + "\n")
    reports = {name: _report(ledger, seeds, name) for name in ROW_ENGINES}
    assert reports["polars"] == reports["pandas"]
    ours = {int(r["line"]) for r in reports["polars"]}  # type: ignore[call-overload]
    assert ours == refused
    assert 20 < len(refused) < len(rows) - 20  # both sides of the rules


def test_a_valid_set_of_these_rules_is_checked_without_pandas(ledger: Path, tmp_path: Path) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    good = [f"{i},{GOOD}" for i in range(1, 4)] + [f"4,{',' * (GOOD.count(','))}"]
    (seeds / "ledger.csv").write_text("\n".join([HEADER, *good]) + "\n")
    loaded = validated_with(seeds, ledger)
    assert {"seedbed.validation.rowchecks", "polars"} <= loaded
    assert "pandas" not in loaded


#: Texts where Unicode's full and simple case mappings, or Rust's and ASCII's case folding,
#: differ; and ASCII beside them.
ODD_TEXTS = [
    "ß",
    "ΑΣ",
    "σς",
    "İ",
    "ǅ",
    "ﬁ",
    "\u212a",
    "\u017f",
    "é",
    "É",
    "abc",
    "ABC",
    "Kß",
    "",
    None,
]


@pytest.mark.parametrize("ascii_case", [False, True])
@pytest.mark.parametrize(
    ("expression", "kind"),
    [
        ("t = lower(t)", "text"),
        ("upper(t) <> 'SS'", "text"),
        ("lower(t) IN ('ß', 'σς', 'abc', 'i')", "text"),
        ("t ~* '^[a-k]'", "text"),
        ("t !~* 's$'", "text"),
        ("t ILIKE '%s%'", "text"),
        ("t ILIKE '%ß%'", "text"),
        ("upper(t) LIKE 'K%'", "text"),
        ("t = upper(t)", "character(3)"),
    ],
)
def test_case_mappings_in_polars_give_the_frame_sides_verdicts(
    expression: str, kind: str, ascii_case: bool
) -> None:
    from seedbed.facts.checksql import rules_from_check
    from seedbed.facts.spec import ColumnSpec
    from seedbed.validation.coerce import coerce_column
    from seedbed.validation.columnar import passes_expr

    found = rules_from_check(expression, {"t": kind}, ascii_case=ascii_case)
    assert found is not None
    (rule,) = found
    texts = pd.Series(ODD_TEXTS, dtype=object)
    spec = ColumnSpec("t", "text", True, False, False, kind)
    frame = pd.DataFrame({"t": coerce_column(spec, texts).values})
    expected = rule.passes(frame).tolist()
    expr = passes_expr(rule, {"t": pl.String()})
    assert expr is not None
    assert pl.DataFrame({"t": ODD_TEXTS}).select(expr).to_series().to_list() == expected


#: PostgreSQL patterns whose Python and Rust translations could part: anchors before a final
#: newline, classes of spaces, bounds, alternation, escapes, any case.
PATTERNS = [
    ("regex", r"^\s*$", False),
    ("regex", r"^[a-z0-9]+(-[a-z0-9]+)*$", False),
    ("regex", r"^\+[1-9][0-9]{2,4}$", False),
    ("regex", r"a.b|^x$", False),
    ("regex", r"^[[:space:]]+[^-\]a]{1,2}", False),
    ("regex", r"^[A-Z0-9._%+-]+@[A-Z0-9.-]+\.[A-Z]{2,}$", True),
    ("regex", r"\d\.\\", False),
    ("like", "a\\%_%", False),
    ("like", "%é_", True),
    ("like", "K%s", True),
    ("similar", "[a-z]{2}(-[A-Z]{2})?", False),
    ("similar", "%(b|c)_", False),
]
ALPHABET = "aAbBcCzZxX019 -+@.%_\\\n\t]éÉ\u00a0\u2003\u212a\u017fßİ"


@settings(max_examples=60, deadline=None)
@example(
    texts=[
        "a\nb",
        "x\n",
        " \n",
        "a%\n",
        "ab-CD\n",
        "K\u212as",
        "\u212a@a.bc",
        "É1",
        "\u00a0é",
        "1.\\",
        None,
    ]
)
@given(texts=st.lists(st.one_of(st.none(), st.text(ALPHABET, max_size=8)), min_size=1))
@pytest.mark.parametrize("ascii_case", [False, True])
@pytest.mark.parametrize(("kind", "pattern", "any_case"), PATTERNS)
def test_a_pattern_in_polars_matches_what_the_frame_side_matches(
    kind: str, pattern: str, any_case: bool, ascii_case: bool, texts: list[str | None]
) -> None:
    from seedbed.facts import declaration as d
    from seedbed.validation.columnar import passes_expr

    term = d.Column("t", "text", ascii_case=ascii_case)
    rule = d.Pattern("p", ("t",), "", term, kind, pattern, case_insensitive=any_case)
    expr = passes_expr(rule, {"t": pl.String()})
    assert expr is not None
    frame = pd.DataFrame({"t": pd.array(texts, dtype="str")})
    expected = rule.passes(frame).tolist()
    assert (
        pl.DataFrame({"t": texts}, schema={"t": pl.String}).select(expr).to_series().to_list()
        == expected
    )


def test_a_refused_integer_is_shown_as_written_beside_nulls(ledger: Path, tmp_path: Path) -> None:
    at = HEADER.split(",").index("qty")
    rows = []
    for i, qty in enumerate(["", "13", "666", "100", "", "-5"], 1):
        row = [str(i), *GOOD.split(",")]
        row[at] = qty
        rows.append(",".join(row))
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "ledger.csv").write_text("\n".join([HEADER, *rows]) + "\n")
    for name in ROW_ENGINES:
        shown = sorted((r["line"], r["rule"], r["value"]) for r in _report(ledger, seeds, name))
        assert shown == [
            (3, "ck_ledger_qty_listed", "13"),
            (4, "ck_ledger_qty_few", "666"),
            (4, "ck_ledger_qty_listed", "666"),
            (5, "ck_ledger_qty_few", "100"),
        ], name
