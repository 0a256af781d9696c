"""subscriber: index on updated_at, so targeting's change probe reads three index ends

Every plan first asks whether the subscriber tables changed since its in-memory index was
built. That probe counted both tables and took ``max(updated_at)`` with three full scans
(~0.3-0.7 s at 1M subscribers, both cores busy while the first message renders); with this
index it is ``max(id)``/``max(updated_at)`` read from index ends, well under a millisecond.

Revision ID: 5f2b7d0e6a41
Revises: 4e8a1c2b9d3f
Create Date: 2026-11-30 13:10:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "5f2b7d0e6a41"
down_revision: str | None = "4e8a1c2b9d3f"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_subscriber_updated_at", "subscriber", ["updated_at"])


def downgrade() -> None:
    op.drop_index("ix_subscriber_updated_at", table_name="subscriber")
