"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}

The namespace is not written into this file: ``schema`` is read from the
migration context, so the revision applies to any SEEDBED_SCHEMA.
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
${imports if imports else ""}

# revision identifiers, used by Alembic.
revision: str = ${repr(up_revision)}
down_revision: Union[str, Sequence[str], None] = ${repr(down_revision)}
branch_labels: Union[str, Sequence[str], None] = ${repr(branch_labels)}
depends_on: Union[str, Sequence[str], None] = ${repr(depends_on)}


def upgrade() -> None:
    schema = op.get_context().version_table_schema
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    schema = op.get_context().version_table_schema
    ${downgrades if downgrades else "pass"}
