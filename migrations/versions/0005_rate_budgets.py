"""rate budgets: one GetResponse call budget per account, leased in slices to every process

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 09:30:00.000000

Each process used to limit itself to the account's whole allowance, so replicas together met
429s. Now every process leases its slice of the account's calls per second and concurrency from
`rate_budget_leases`, under the lock of the account's `rate_budgets` row, which also carries a
429's pause to every process. The previous release neither reads nor writes these tables, so it
keeps working (limiting itself alone) during the upgrade; the downgrade loses only leases, which
are renewed every second anyway.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rate_budgets",
        sa.Column("account", sa.Text(), nullable=False),
        sa.Column("paused_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("batch_paused_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("account"),
    )
    op.create_table(
        "rate_budget_leases",
        sa.Column("account", sa.Text(), nullable=False),
        sa.Column("holder", sa.UUID(), nullable=False),
        sa.Column("process", sa.Text(), nullable=False),
        sa.Column("per_second", sa.Integer(), nullable=False),
        sa.Column("concurrency", sa.Integer(), nullable=False),
        sa.Column("per_second_wants", postgresql.ARRAY(sa.Integer()), nullable=False),
        sa.Column("concurrency_wants", postgresql.ARRAY(sa.Integer()), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account"], ["rate_budgets.account"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("account", "holder"),
    )


def downgrade() -> None:
    op.drop_table("rate_budget_leases")
    op.drop_table("rate_budgets")
