"""control api: OAuth states, and one live sync per list instead of one sync per list ever

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 22:53:20.463043

The downgrade restores the plain unique constraint on syncs.campaign_id, which fails while a
cancelled sync and a newer one share a list: delete the cancelled one first.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "oauth_states",
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("environment", sa.String(length=16), nullable=False),
        sa.Column("login_url", sa.Text(), nullable=False),
        sa.Column("redirect_uri", sa.Text(), nullable=False),
        sa.Column("code_verifier", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("state_hash"),
    )
    op.create_index("ix_oauth_states_expires_at", "oauth_states", ["expires_at"], unique=False)
    op.drop_constraint("syncs_campaign_id_key", "syncs", type_="unique")
    op.create_index(
        "uq_syncs_campaign_live",
        "syncs",
        ["campaign_id"],
        unique=True,
        postgresql_where="state <> 'cancelled'",
    )


def downgrade() -> None:
    op.drop_index("uq_syncs_campaign_live", table_name="syncs", postgresql_where="state <> 'cancelled'")
    op.create_unique_constraint("syncs_campaign_id_key", "syncs", ["campaign_id"])
    op.drop_index("ix_oauth_states_expires_at", table_name="oauth_states")
    op.drop_table("oauth_states")
