"""core tables

Revision ID: 0001
Revises:
Create Date: 2026-11-26 22:38:10.899901
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("scopes", postgresql.ARRAY(sa.String()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_table(
        "connections",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=False),
        sa.Column("api_base_url", sa.Text(), nullable=False),
        sa.Column("auth_kind", sa.String(length=32), nullable=False),
        sa.Column("credentials", sa.LargeBinary(), nullable=False),
        sa.Column("inbound_secret", sa.LargeBinary(), nullable=True),
        sa.Column("settings", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "external_id", name="uq_connections_kind_external_id"),
    )
    op.create_table(
        "processed_events",
        sa.Column("consumer", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column(
            "processed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.PrimaryKeyConstraint("consumer", "event_id"),
    )
    op.create_index("ix_processed_events_processed_at", "processed_events", ["processed_at"], unique=False)
    op.create_table(
        "syncs",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("salesforce_connection_id", sa.UUID(), nullable=False),
        sa.Column("getresponse_connection_id", sa.UUID(), nullable=False),
        sa.Column("campaign_id", sa.String(length=64), nullable=False),
        sa.Column("salesforce_objects", postgresql.ARRAY(sa.String()), nullable=False),
        sa.Column("soql_filter", sa.Text(), nullable=True),
        sa.Column("salesforce_campaign_id", sa.String(length=18), nullable=True),
        sa.Column("create_as", sa.String(length=16), nullable=False),
        sa.Column("lead_source", sa.String(length=255), nullable=True),
        sa.Column("preferred_system", sa.String(length=16), nullable=False),
        sa.Column("marker_field", sa.String(length=80), nullable=True),
        sa.Column("set_opt_out", sa.Boolean(), nullable=False),
        sa.Column("mapping", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["getresponse_connection_id"],
            ["connections.id"],
        ),
        sa.ForeignKeyConstraint(
            ["salesforce_connection_id"],
            ["connections.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("campaign_id"),
    )
    op.create_table(
        "contact_links",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("sync_id", sa.UUID(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("salesforce_id", sa.String(length=18), nullable=True),
        sa.Column("salesforce_object", sa.String(length=40), nullable=True),
        sa.Column("getresponse_contact_id", sa.String(length=64), nullable=True),
        sa.Column("email_normalized", sa.String(length=255), nullable=False),
        sa.Column("base", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("salesforce_modified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("getresponse_changed_on", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pending_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pending_changes", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("next_lookup_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lookup_attempts", sa.Integer(), nullable=False),
        sa.Column("removed_from_list", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["sync_id"], ["syncs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sync_id", "email_normalized", name="uq_links_sync_email"),
        sa.UniqueConstraint("sync_id", "getresponse_contact_id", name="uq_links_sync_getresponse_id"),
        sa.UniqueConstraint("sync_id", "salesforce_id", name="uq_links_sync_salesforce_id"),
    )
    op.create_index(
        "ix_links_pending_lookup",
        "contact_links",
        ["next_lookup_at"],
        unique=False,
        postgresql_where="state = 'pending'",
    )
    op.create_table(
        "dead_letters",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("sync_id", sa.UUID(), nullable=True),
        sa.Column("topic", sa.String(length=255), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=True),
        sa.Column("event_id", sa.String(length=255), nullable=True),
        sa.Column("event", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("error_class", sa.String(length=64), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("replayed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("discarded_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["sync_id"], ["syncs.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_dead_letters_created_at", "dead_letters", ["created_at"], unique=False)
    op.create_table(
        "poller_watermarks",
        sa.Column("sync_id", sa.UUID(), nullable=False),
        sa.Column("changed_on", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["sync_id"], ["syncs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("sync_id"),
    )
    op.create_table(
        "sync_jobs",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("sync_id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("mode", sa.String(length=32), nullable=False),
        sa.Column("scope", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("counts", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("report", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("errors", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("cursor", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["sync_id"], ["syncs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_sync_jobs_sync_id", "sync_jobs", ["sync_id"], unique=False)
    op.create_table(
        "decisions",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("link_id", sa.BigInteger(), nullable=False),
        sa.Column("sync_id", sa.UUID(), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=True),
        sa.Column("field", sa.String(length=80), nullable=False),
        sa.Column("old_value", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("new_value", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("winner", sa.String(length=16), nullable=True),
        sa.Column("rule", sa.String(length=40), nullable=False),
        sa.Column("write_to", sa.String(length=16), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["link_id"], ["contact_links.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["sync_id"], ["syncs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_decisions_link_id", "decisions", ["link_id", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_decisions_link_id", table_name="decisions")
    op.drop_table("decisions")
    op.drop_index("ix_sync_jobs_sync_id", table_name="sync_jobs")
    op.drop_table("sync_jobs")
    op.drop_table("poller_watermarks")
    op.drop_index("ix_dead_letters_created_at", table_name="dead_letters")
    op.drop_table("dead_letters")
    op.drop_index("ix_links_pending_lookup", table_name="contact_links", postgresql_where="state = 'pending'")
    op.drop_table("contact_links")
    op.drop_table("syncs")
    op.drop_index("ix_processed_events_processed_at", table_name="processed_events")
    op.drop_table("processed_events")
    op.drop_table("connections")
    op.drop_table("api_tokens")
