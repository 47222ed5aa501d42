"""sync pause: an operator pauses a sync; its live changes are kept until it is resumed

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 15:00:00.000000

`syncs.paused_from` remembers the state a resume goes back to; `paused_changes` keeps the live
changes that came for a paused sync, oldest first. The previous release never pauses a sync and
reads neither, so it keeps working during the upgrade. A downgrade drops kept changes: resume
every paused sync before it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("syncs", sa.Column("paused_from", sa.String(length=16), nullable=True))
    op.create_table(
        "paused_changes",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("sync_id", sa.UUID(), nullable=False),
        sa.Column("event", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["sync_id"], ["syncs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_paused_changes_sync", "paused_changes", ["sync_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_paused_changes_sync", table_name="paused_changes")
    op.drop_table("paused_changes")
    op.execute("UPDATE syncs SET state = paused_from WHERE state = 'paused'")
    op.drop_column("syncs", "paused_from")
