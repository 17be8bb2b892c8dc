"""initial schema: entities, contributions, sections, links, provenance, answer log

Revision ID: 0001
Revises: 
Create Date: 2026-11-21 10:06:59.183198
"""
from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('answer_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('question', sa.Text(), nullable=False),
    sa.Column('answer', sa.Text(), nullable=False),
    sa.Column('cited_passage_ids', sa.JSON(), nullable=False),
    sa.Column('kb_revision', sa.Integer(), nullable=False),
    sa.Column('generator', sa.String(length=255), nullable=False),
    sa.Column('latency_ms', sa.Double(), nullable=False),
    sa.Column('refused', sa.Boolean(), nullable=False),
    sa.Column('triage', sa.String(length=32), nullable=True),
    sa.Column('extra', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('entities',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('type', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('norm_name', sa.String(length=255), nullable=False),
    sa.Column('approval_number', sa.String(length=64), nullable=True),
    sa.Column('otc_class', sa.String(length=16), nullable=True),
    sa.Column('created_revision', sa.Integer(), nullable=False),
    sa.Column('updated_revision', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('type', 'norm_name', name='uq_entity_type_name')
    )
    op.create_table('revisions',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('summary', sa.JSON(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('sources',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uri', sa.Text(), nullable=False),
    sa.Column('format', sa.String(length=32), nullable=False),
    sa.Column('origin', sa.String(length=64), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('license_note', sa.Text(), nullable=True),
    sa.Column('ingested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('uri', 'content_hash', name='uq_source_uri_hash')
    )
    op.create_table('contributions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entity_id', sa.Integer(), nullable=False),
    sa.Column('origin', sa.String(length=64), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['entity_id'], ['entities.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['source_id'], ['sources.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('entity_id', 'origin', name='uq_contribution_entity_origin')
    )
    op.create_table('aliases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entity_id', sa.Integer(), nullable=False),
    sa.Column('contribution_id', sa.Integer(), nullable=False),
    sa.Column('alias', sa.String(length=255), nullable=False),
    sa.Column('norm_alias', sa.String(length=255), nullable=False),
    sa.ForeignKeyConstraint(['contribution_id'], ['contributions.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['entity_id'], ['entities.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('aliases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_aliases_contribution_id'), ['contribution_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_aliases_entity_id'), ['entity_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_aliases_norm_alias'), ['norm_alias'], unique=False)

    op.create_table('links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('relation', sa.String(length=32), nullable=False),
    sa.Column('from_id', sa.Integer(), nullable=False),
    sa.Column('contribution_id', sa.Integer(), nullable=False),
    sa.Column('target_type', sa.String(length=16), nullable=False),
    sa.Column('target_name', sa.String(length=255), nullable=False),
    sa.Column('target_norm', sa.String(length=255), nullable=False),
    sa.Column('target_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['contribution_id'], ['contributions.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['from_id'], ['entities.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['target_id'], ['entities.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_links_contribution_id'), ['contribution_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_links_from_id'), ['from_id'], unique=False)
        batch_op.create_index('ix_links_target', ['target_type', 'target_norm'], unique=False)
        batch_op.create_index(batch_op.f('ix_links_target_id'), ['target_id'], unique=False)

    op.create_table('sections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entity_id', sa.Integer(), nullable=False),
    sa.Column('contribution_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('title', sa.String(length=255), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('items', sa.JSON(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['contribution_id'], ['contributions.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['entity_id'], ['entities.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('sections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sections_contribution_id'), ['contribution_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sections_entity_id'), ['entity_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('sections', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sections_entity_id'))
        batch_op.drop_index(batch_op.f('ix_sections_contribution_id'))

    op.drop_table('sections')
    with op.batch_alter_table('links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_links_target_id'))
        batch_op.drop_index('ix_links_target')
        batch_op.drop_index(batch_op.f('ix_links_from_id'))
        batch_op.drop_index(batch_op.f('ix_links_contribution_id'))

    op.drop_table('links')
    with op.batch_alter_table('aliases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_aliases_norm_alias'))
        batch_op.drop_index(batch_op.f('ix_aliases_entity_id'))
        batch_op.drop_index(batch_op.f('ix_aliases_contribution_id'))

    op.drop_table('aliases')
    op.drop_table('contributions')
    op.drop_table('sources')
    op.drop_table('revisions')
    op.drop_table('entities')
    op.drop_table('answer_log')
