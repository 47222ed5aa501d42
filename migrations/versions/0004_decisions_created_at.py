"""decisions: an index on created_at, so that retention finds old decisions without a full scan

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 09:40:12.504117

Retention (app/retention.py) deletes decisions older than SFGR_RETENTION_DECISIONS_S a batch at a
time; without this index every batch would read the whole table. The decision log is the largest
table, so the index is built CONCURRENTLY: the previous release keeps writing decisions while it
is built. A build that fails leaves an invalid index behind; the downgrade (or a DROP INDEX) clears
it before the upgrade is run again.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # CREATE INDEX CONCURRENTLY cannot run inside a transaction.
    with op.get_context().autocommit_block():
        op.create_index(
            "ix_decisions_created_at", "decisions", ["created_at"], unique=False, postgresql_concurrently=True
        )


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index(
            "ix_decisions_created_at", table_name="decisions", postgresql_concurrently=True, if_exists=True
        )
