"""loans: advances, loan repayments, loan settlement jobs; orders may be LOAN_SETTLED

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STATUSES = "'PENDING', 'PAID', 'FAILED', 'EXPIRED', 'CANCELLED', 'SETTLED'"
OPEN_JOB = sa.text("status IN ('queued', 'running')")
OPEN_REPAYMENT = sa.text("reverted_at IS NULL")


def upgrade() -> None:
    op.drop_constraint(op.f("orders_status_check"), "orders", type_="check")
    op.create_check_constraint(op.f("orders_status_check"), "orders", f"status IN ({_STATUSES}, 'LOAN_SETTLED')")
    op.create_table(
        "advances",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("partner_id", sa.Uuid(), nullable=False),
        sa.Column("currency", sa.CHAR(length=3), server_default="IDR", nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("granted_by", sa.String(length=80), nullable=False),
        sa.Column("ledger_transaction_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("advances_amount_positive_check")),
        sa.ForeignKeyConstraint(
            ["ledger_transaction_id"], ["ledger_transactions.id"], name=op.f("advances_ledger_transaction_id_fkey")
        ),
        sa.ForeignKeyConstraint(["partner_id"], ["partners.id"], name=op.f("advances_partner_id_fkey")),
        sa.PrimaryKeyConstraint("id", name=op.f("advances_pkey")),
        sa.UniqueConstraint("idempotency_key", name=op.f("advances_idempotency_key_key")),
    )
    op.create_index("ix_advances_partner_id_created_at", "advances", ["partner_id", "created_at"], unique=False)
    op.create_table(
        "loan_settlement_jobs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("partner_id", sa.Uuid(), nullable=False),
        sa.Column("provider_account_id", sa.Uuid(), nullable=True),
        sa.Column("paid_from", sa.Date(), nullable=False),
        sa.Column("paid_to", sa.Date(), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("dry_run", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("status", sa.String(length=16), server_default="queued", nullable=False),
        sa.Column("orders_seen", sa.Integer(), server_default="0", nullable=False),
        sa.Column("orders_settled", sa.Integer(), server_default="0", nullable=False),
        sa.Column("orders_skipped", sa.Integer(), server_default="0", nullable=False),
        sa.Column("amount", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("after_paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("after_id", sa.Uuid(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("cancel_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'completed', 'failed', 'cancelled')",
            name=op.f("loan_settlement_jobs_status_check"),
        ),
        sa.CheckConstraint("paid_from <= paid_to", name=op.f("loan_settlement_jobs_range_check")),
        sa.CheckConstraint(
            "(after_paid_at IS NULL) = (after_id IS NULL)", name=op.f("loan_settlement_jobs_cursor_check")
        ),
        sa.ForeignKeyConstraint(["partner_id"], ["partners.id"], name=op.f("loan_settlement_jobs_partner_id_fkey")),
        sa.ForeignKeyConstraint(
            ["provider_account_id"],
            ["provider_accounts.id"],
            name=op.f("loan_settlement_jobs_provider_account_id_fkey"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("loan_settlement_jobs_pkey")),
    )
    op.create_index(
        "ix_loan_settlement_jobs_open", "loan_settlement_jobs", ["created_at"], unique=False,
        postgresql_where=OPEN_JOB,
    )  # fmt: skip
    op.create_index(
        "ix_loan_settlement_jobs_partner_id_created_at", "loan_settlement_jobs", ["partner_id", "created_at"],
        unique=False,
    )  # fmt: skip
    op.create_table(
        "loan_repayments",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("round", sa.SmallInteger(), nullable=False),
        sa.Column("partner_id", sa.Uuid(), nullable=False),
        sa.Column("net", sa.BigInteger(), nullable=False),
        sa.Column("ledger_transaction_id", sa.BigInteger(), nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("settled_by", sa.String(length=80), nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revert_id", sa.Uuid(), nullable=True),
        sa.Column("reverted_by", sa.String(length=80), nullable=True),
        sa.Column("reverted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revert_transaction_id", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("round >= 1", name=op.f("loan_repayments_round_positive_check")),
        sa.CheckConstraint("net > 0", name=op.f("loan_repayments_net_positive_check")),
        sa.CheckConstraint(
            "(reverted_at IS NULL) = (revert_transaction_id IS NULL)", name=op.f("loan_repayments_revert_check")
        ),
        sa.ForeignKeyConstraint(["job_id"], ["loan_settlement_jobs.id"], name=op.f("loan_repayments_job_id_fkey")),
        sa.ForeignKeyConstraint(
            ["ledger_transaction_id"],
            ["ledger_transactions.id"],
            name=op.f("loan_repayments_ledger_transaction_id_fkey"),
        ),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("loan_repayments_order_id_fkey")),
        sa.ForeignKeyConstraint(["partner_id"], ["partners.id"], name=op.f("loan_repayments_partner_id_fkey")),
        sa.ForeignKeyConstraint(
            ["revert_transaction_id"],
            ["ledger_transactions.id"],
            name=op.f("loan_repayments_revert_transaction_id_fkey"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("loan_repayments_pkey")),
        sa.UniqueConstraint("order_id", "round", name=op.f("loan_repayments_order_id_round_key")),
    )
    op.create_index("ix_loan_repayments_job_id", "loan_repayments", ["job_id"], unique=False)
    op.create_index(
        "ix_loan_repayments_partner_id_settled_at", "loan_repayments", ["partner_id", "settled_at"], unique=False
    )
    op.create_index("ix_loan_repayments_revert_id", "loan_repayments", ["revert_id"], unique=False)
    op.create_index(
        "uq_loan_repayments_open_order_id", "loan_repayments", ["order_id"], unique=True,
        postgresql_where=OPEN_REPAYMENT,
    )  # fmt: skip


def downgrade() -> None:
    op.drop_index("uq_loan_repayments_open_order_id", table_name="loan_repayments", postgresql_where=OPEN_REPAYMENT)
    op.drop_index("ix_loan_repayments_revert_id", table_name="loan_repayments")
    op.drop_index("ix_loan_repayments_partner_id_settled_at", table_name="loan_repayments")
    op.drop_index("ix_loan_repayments_job_id", table_name="loan_repayments")
    op.drop_table("loan_repayments")
    op.drop_index("ix_loan_settlement_jobs_partner_id_created_at", table_name="loan_settlement_jobs")
    op.drop_index("ix_loan_settlement_jobs_open", table_name="loan_settlement_jobs", postgresql_where=OPEN_JOB)
    op.drop_table("loan_settlement_jobs")
    op.drop_index("ix_advances_partner_id_created_at", table_name="advances")
    op.drop_table("advances")
    # Refused while an order is LOAN_SETTLED (the old CHECK cannot hold it): revert those first, through the API,
    # so their money goes back too.
    op.drop_constraint(op.f("orders_status_check"), "orders", type_="check")
    op.create_check_constraint(op.f("orders_status_check"), "orders", f"status IN ({_STATUSES})")
