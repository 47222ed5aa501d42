"""a sync's recent decisions, and who started a Salesforce authorization

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 21:30:00.000000

`ix_decisions_sync_id` serves the sync detail page's newest decisions without scanning every
sync's log. `oauth_states.started_by` keeps who started an authorization, so the callback (which
comes back with the state alone) is audited under their name. The previous release neither reads
the index nor writes the column (nullable), so it keeps working during the upgrade.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_decisions_sync_id", "decisions", ["sync_id", "id"])
    started_by = sa.Column("started_by", postgresql.JSONB(astext_type=sa.Text()), nullable=True)
    op.add_column("oauth_states", started_by)


def downgrade() -> None:
    op.drop_column("oauth_states", "started_by")
    op.drop_index("ix_decisions_sync_id", table_name="decisions")
