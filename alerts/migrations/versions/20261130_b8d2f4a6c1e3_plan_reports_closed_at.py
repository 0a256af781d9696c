"""dispatch_plan.reports_closed_at: when the sweep stopped waiting for delivery reports

A message whose delivery report never comes stayed ``submitted`` for ever, so the funnel
never settled. Once the message can no longer be delivered (its MM7 ExpiryDate, the alert's
``expires``, plus a grace period; or a maximum wait when the alert has no expiry), the sweep
marks what is still ``submitted`` as ``expired`` with the reason, once per plan, and stamps
this column.

Revision ID: b8d2f4a6c1e3
Revises: a3c9e5d17b20
Create Date: 2026-11-30 16:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from alerts.db import UTCDateTime

revision: str = "b8d2f4a6c1e3"
down_revision: str | None = "a3c9e5d17b20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("dispatch_plan") as batch:
        batch.add_column(sa.Column("reports_closed_at", UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("dispatch_plan") as batch:
        batch.drop_column("reports_closed_at")
