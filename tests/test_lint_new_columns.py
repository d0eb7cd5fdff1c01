"""A CHECK added in the same revision as its column is judged on the values rows will have."""

from __future__ import annotations

from seedbed import safety
from seedbed.config import Settings
from tests.revision_files import RevisionFolder


def test_check_on_a_column_added_in_the_same_revision_passes_on_nulls(
    populated: Settings, revisions: RevisionFolder
) -> None:
    revisions.add(
        """
        op.add_column('tag', sa.Column('description', sa.Text(), nullable=True), schema=schema)
        op.create_check_constraint(
            'ck_tag_description_length', 'tag',
            'char_length("description") BETWEEN 1 AND 200', schema=schema,
        )
        """
    )
    report = safety.lint(populated)
    assert report.ok, report.render()
    assert not [f for f in report if f.rule == "constraint-violated-by-data"]


def test_check_on_a_new_column_counts_rows_its_default_breaks(
    populated: Settings, revisions: RevisionFolder
) -> None:
    revisions.add(
        """
        op.add_column(
            'tag', sa.Column('weight', sa.Integer(), server_default='0', nullable=False),
            schema=schema,
        )
        op.create_check_constraint('ck_tag_weight_positive', 'tag', 'weight > 0', schema=schema)
        """
    )
    report = safety.lint(populated)
    (broken,) = [f for f in report if f.rule == "constraint-violated-by-data"]
    assert broken.affected == 8  # every tag of data/seeds gets weight 0
    assert not report.ok
