"""drop ix_links_target: no query looks links up by target name; it cost ~12% of a bulk ingest

Links are resolved by scanning the unresolved ones (ix_links_target_id) and probing entities and
aliases by their own indexes; relations are read back by from_id / target_id. The (target_type,
target_norm) index was only ever written.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 13:05:00
"""
from alembic import op


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('links', schema=None) as batch_op:
        batch_op.drop_index('ix_links_target')


def downgrade() -> None:
    with op.batch_alter_table('links', schema=None) as batch_op:
        batch_op.create_index('ix_links_target', ['target_type', 'target_norm'], unique=False)
