"""withdrawals: platform payouts from a provider account (source 'platform', no partner)

The platform takes its fee income out of a provider account through the same flow as partners' withdrawals
(provider submission, recovery, callbacks), so a platform payout is a withdrawal row without a partner.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 23:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.alter_column("withdrawals", "partner_id", existing_type=sa.Uuid(), nullable=True)
    op.drop_constraint(op.f("withdrawals_source_check"), "withdrawals", type_="check")
    op.create_check_constraint(
        op.f("withdrawals_source_check"), "withdrawals", "source IN ('console', 's2s', 'admin', 'platform')"
    )
    op.create_check_constraint(
        op.f("withdrawals_platform_has_no_partner_check"), "withdrawals", "(source = 'platform') = (partner_id IS NULL)"
    )
    op.create_index(
        "uq_withdrawals_platform_reference", "withdrawals", ["reference"], unique=True,
        postgresql_where=sa.text("partner_id IS NULL"),
    )  # fmt: skip


def downgrade() -> None:
    # Payout records are money that moved: never dropped to make a downgrade fit.
    if op.get_bind().execute(sa.text("SELECT count(*) FROM withdrawals WHERE partner_id IS NULL")).scalar():
        raise RuntimeError("platform payouts exist: they cannot be represented before revision 0015")
    op.drop_index("uq_withdrawals_platform_reference", table_name="withdrawals")
    op.drop_constraint(op.f("withdrawals_platform_has_no_partner_check"), "withdrawals", type_="check")
    op.drop_constraint(op.f("withdrawals_source_check"), "withdrawals", type_="check")
    op.create_check_constraint(op.f("withdrawals_source_check"), "withdrawals", "source IN ('console', 's2s', 'admin')")
    op.alter_column("withdrawals", "partner_id", existing_type=sa.Uuid(), nullable=False)
