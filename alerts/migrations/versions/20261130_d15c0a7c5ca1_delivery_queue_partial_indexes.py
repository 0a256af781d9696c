"""delivery queue: partial indexes for claim and reclaim, (message_id, recipient) for reports,
no (state, priority, next_attempt_at) index

Revision ID: d15c0a7c5ca1
Revises: 3beb3b0916ea
Create Date: 2026-11-30 10:15:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d15c0a7c5ca1"
down_revision: str | None = "3beb3b0916ea"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_QUEUED = sa.text("state = 'queued'")
_LEASED = sa.text("state IN ('claimed', 'submitting')")


def upgrade() -> None:
    # Claim: the next rows of one (alert, content) in priority order, touching queued rows only.
    op.create_index(
        "ix_delivery_queued",
        "delivery",
        ["alert_id", sa.text("priority DESC"), "content_id", "id"],
        postgresql_where=_QUEUED,
        sqlite_where=_QUEUED,
    )
    # Reclaim after a crash: rows whose lease ran out, without reading the queued ones.
    op.create_index(
        "ix_delivery_leased",
        "delivery",
        ["lease_until"],
        postgresql_where=_LEASED,
        sqlite_where=_LEASED,
    )
    # Delivery reports find their row by (MessageID, recipient): a multi-recipient submit
    # shares one MessageID between up to max_recipients rows.
    op.create_index("ix_delivery_report", "delivery", ["message_id", "recipient"])
    op.drop_index("ix_delivery_message", table_name="delivery")
    # The old claim index (state, priority, next_attempt_at) serves no query any more, and
    # every state change of every delivery (four per message) paid an insert into it.
    op.drop_index("ix_delivery_claim", table_name="delivery")


def downgrade() -> None:
    op.create_index("ix_delivery_claim", "delivery", ["state", "priority", "next_attempt_at"])
    op.create_index("ix_delivery_message", "delivery", ["message_id"])
    op.drop_index("ix_delivery_report", table_name="delivery")
    op.drop_index("ix_delivery_leased", table_name="delivery")
    op.drop_index("ix_delivery_queued", table_name="delivery")
