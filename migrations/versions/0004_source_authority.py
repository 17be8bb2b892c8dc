"""sources.authority: each source's rank (label 40 > curated 30 > graph 20 > crawl 10), existing KBs on upgrade

The rank decides which source answers a section several sources hold (kb/authority.py). Existing sources
get the rank `kb ingest` would give them now, from their origin, else their format (the tables below are
kb.authority's BY_ORIGIN and BY_FORMAT as of this migration, copied so that the migration never changes).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 04:00:00
"""
import sqlalchemy as sa
from alembic import op


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

BY_ORIGIN = {"demo": 30, "colloquial": 30, "cmekg": 20, "xywy": 10, "medical-json": 10}
BY_FORMAT = {"label": 40, "json": 30, "cmekg": 20, "xywy": 10, "medical-json": 10}


def upgrade() -> None:
    op.add_column('sources', sa.Column('authority', sa.Integer(), nullable=False, server_default='30'))
    sources = sa.table('sources', sa.column('origin', sa.String), sa.column('format', sa.String),
                       sa.column('authority', sa.Integer))
    for fmt, rank in BY_FORMAT.items():
        op.execute(sources.update().where(sources.c.format == fmt).values(authority=rank))
    for origin, rank in BY_ORIGIN.items():  # the origin decides over the format
        op.execute(sources.update().where(sources.c.origin == origin).values(authority=rank))


def downgrade() -> None:
    # a plain ALTER TABLE (SQLite >= 3.35 has DROP COLUMN): copying the table, as batch mode does, would
    # break the contributions' foreign keys on SQLite
    op.drop_column('sources', 'authority')
