"""dispatch plans: chunked materialisation (resume key, materialized_at); plan requests

Revision ID: 7b1e2f3a4c5d
Revises: d15c0a7c5ca1
Create Date: 2026-11-30 10:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import alerts.db

revision: str = "7b1e2f3a4c5d"
down_revision: str | None = "d15c0a7c5ca1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("dispatch_plan", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("segments", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )
        batch_op.add_column(
            sa.Column("resume_segment", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("resume_after", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("materialized_at", alerts.db.UTCDateTime(timezone=True), nullable=True)
        )
    # Plans written before this revision were written in one transaction: complete.
    op.execute(
        "UPDATE dispatch_plan SET materialized_at = COALESCE(planned_at, accepted_at) "
        "WHERE materialized_at IS NULL"
    )
    op.create_table(
        "plan_request",
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("expected_max", sa.Integer(), nullable=True),
        sa.Column("requested_at", alerts.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["alert_id"], ["alert.id"]),
        sa.PrimaryKeyConstraint("alert_id"),
    )


def downgrade() -> None:
    op.drop_table("plan_request")
    with op.batch_alter_table("dispatch_plan", schema=None) as batch_op:
        batch_op.drop_column("materialized_at")
        batch_op.drop_column("resume_after")
        batch_op.drop_column("resume_segment")
        batch_op.drop_column("segments")
