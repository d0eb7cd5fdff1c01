"""How errors with a report, and reports, look: HTML in Jupyter, short text in a terminal."""

from __future__ import annotations

from pathlib import Path

import seedbed
from seedbed.display import install_ipython_hook
from seedbed.errors import DataError, LoadError
from tests.helpers import ROOT

BAD_EMAIL = ROOT / "data" / "invalid" / "bad_email"


def test_a_data_error_renders_its_report_summary_first() -> None:
    report = seedbed.validate(BAD_EMAIL)
    error = DataError("1 problem in 1 file; nothing was loaded", report)
    html = error._repr_html_()
    assert (
        html.index("DataError") < html.index("<th>problems</th>") < html.index("<th>message</th>")
    )
    assert "ck_user_email_format" in html and "not-an-email" in html
    assert str(error) == "1 problem in 1 file; nothing was loaded"  # the terminal's short form


def test_a_load_error_without_a_report_shows_where_the_database_refused() -> None:
    error = LoadError(
        "user.csv, line 7: table 'user': duplicate key value",
        table="user",
        file="user.csv",
        line=7,
        constraint="uq_user_email",
    )
    report = error.problem_report()
    assert report.to_records() == [
        {
            "file": "user.csv",
            "table": "user",
            "line": 7,
            "column": None,
            "rule": "uq_user_email",
            "value": None,
            "message": str(error),
        }
    ]
    assert "uq_user_email" in error._repr_html_()


def test_report_text_puts_the_summary_before_the_rows_and_caps_them(tmp_path: Path) -> None:
    source = (BAD_EMAIL / "user.csv").read_text(encoding="utf-8").splitlines()
    rows = [source[0]] + [line.replace("@", "") for line in source[1:]]  # no email is valid
    (tmp_path / "user.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    report = seedbed.validate(tmp_path)
    assert len(report) > 2
    text = report.to_text(max_rows=2).splitlines()
    assert text[0].startswith("invalid: ") and text[1] == "problems per table and rule:"
    shown = [line for line in text if line.startswith(str(tmp_path))]
    assert len(shown) == 2
    assert text[-1].startswith(f"… and {len(report) - 2:,} more")


def test_the_ipython_hook_is_only_installed_inside_ipython() -> None:
    assert install_ipython_hook() is False  # pytest is not IPython
