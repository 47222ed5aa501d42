"""pubsub replay: where the Pub/Sub API subscriber stands, per org and channel

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 15:00:00.000000

The subscriber (`sfgr subscribe`) stores the opaque replay id of the last event Kafka
acknowledged (or of the last keepalive), per Salesforce connection and channel, with the commit
time of the last event it processed (where a gap re-read starts after an expired replay id) and
when the server was last heard from. The previous release does not read the table.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pubsub_replay",
        sa.Column("connection_id", sa.UUID(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("replay_id", sa.LargeBinary(), nullable=False),
        sa.Column("last_commit_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("heard_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(["connection_id"], ["connections.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("connection_id", "channel"),
    )


def downgrade() -> None:
    op.drop_table("pubsub_replay")
