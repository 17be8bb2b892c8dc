"""kb_identity: every KB gets an id of its own (a UUID), existing KBs on upgrade

A retrieval index records the id of the KB it was built from; two KBs at the same revision (the
same files ingested into two databases) are then still told apart.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 09:00:00
"""
import uuid
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table('kb_identity',
    sa.Column('id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.bulk_insert(table, [{'id': str(uuid.uuid4()), 'created_at': datetime.now(timezone.utc)}])


def downgrade() -> None:
    op.drop_table('kb_identity')
