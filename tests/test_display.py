"""How errors with a report, and reports, look: HTML in Jupyter, short text in a terminal."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import seedbed
from seedbed.errors import DataError, LoadError
from seedbed.notebook import use_notebook_display
from seedbed.validation.report import ValidationReport
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


def test_a_load_error_carries_the_one_row_the_database_refused() -> None:
    message = "user.csv, line 7: table 'user': duplicate key value"
    report = ValidationReport.refused(
        table="user", file="user.csv", line=7, constraint="uq_user_email", message=message
    )
    error = LoadError(
        message, table="user", file="user.csv", line=7, constraint="uq_user_email", report=report
    )
    assert error.report.to_records() == [
        {
            "file": "user.csv",
            "table": "user",
            "line": 7,
            "column": None,
            "rule": "uq_user_email",
            "value": None,
            "message": message,
        }
    ]
    assert (error.table, error.file, error.line) == ("user", "user.csv", 7)
    assert "uq_user_email" in error._repr_html_()


def test_a_refusal_without_a_place_is_a_load_row() -> None:
    report = ValidationReport.refused(
        table=None, file=None, line=None, constraint=None, message="refused"
    )
    assert report.to_records() == [
        {
            "file": "",
            "table": "",
            "line": None,
            "column": None,
            "rule": "load",
            "value": None,
            "message": "refused",
        }
    ]


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


def test_the_notebook_display_is_only_installed_inside_ipython() -> None:
    assert use_notebook_display() is False  # pytest is not IPython
    assert seedbed.use_notebook_display is use_notebook_display


_HOOK_PROBE = """
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
import seedbed
print(shell.custom_exceptions)
print(seedbed.use_notebook_display())
print(shell.custom_exceptions)
"""


def test_importing_seedbed_installs_no_hook_and_asking_installs_one() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _HOOK_PROBE], capture_output=True, text=True, check=True
    )
    before, installed, after = done.stdout.splitlines()[-3:]
    assert before == "()"  # import seedbed left IPython's exception handling alone
    assert installed == "True"
    assert after == "(<class 'seedbed.errors.DataError'>,)"
