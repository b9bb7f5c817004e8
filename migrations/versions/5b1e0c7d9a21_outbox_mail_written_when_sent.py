"""notifications: outbox mail written when it is sent (queue_email_later keeps the ids its template reads)

Revision ID: 5b1e0c7d9a21
Revises: 2403afa58781
Create Date: 2026-12-01 19:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5b1e0c7d9a21'
down_revision = '2403afa58781'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('outbox_email', schema=None) as batch_op:
        batch_op.add_column(sa.Column('later', sa.JSON(none_as_null=True), nullable=True))


def downgrade():
    with op.batch_alter_table('outbox_email', schema=None) as batch_op:
        batch_op.drop_column('later')
