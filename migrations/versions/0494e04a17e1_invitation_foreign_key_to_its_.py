"""invitation: foreign key to its consultation (cascade)

Revision ID: 0494e04a17e1
Revises: 1e5bc802a183
Create Date: 2026-11-30 17:46:09.303058

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0494e04a17e1'
down_revision = '1e5bc802a183'
branch_labels = None
depends_on = None


def upgrade():
    # Invitations whose consultation is gone (nothing enforced this before) would break the new key.
    op.execute("DELETE FROM invitation WHERE consultation_id NOT IN (SELECT id FROM consultation)")
    with op.batch_alter_table('invitation', schema=None) as batch_op:
        batch_op.create_foreign_key(batch_op.f('fk_invitation_consultation_id_consultation'), 'consultation',
                                    ['consultation_id'], ['id'], ondelete='CASCADE')


def downgrade():
    with op.batch_alter_table('invitation', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_invitation_consultation_id_consultation'), type_='foreignkey')
