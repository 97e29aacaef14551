"""What each role may do, for admins and for partner users. docs/security.md states the same two matrices
for people; a test keeps them, the routes and the behaviour in agreement."""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable

from gerbang.auth.dependencies import CurrentAdmin, CurrentPartnerUser
from gerbang.auth.sessions import AdminPrincipal, AdminRole, PartnerRole, PartnerUserPrincipal
from gerbang.exceptions import Forbidden


class Permission(enum.StrEnum):
    """Admin permissions."""

    partners_read = "partners.read"
    partners_write = "partners.write"
    partner_secrets = "partners.secrets"
    providers_read = "providers.read"
    providers_write = "providers.write"
    admins_manage = "admins.manage"
    security_manage = "security.manage"
    audit_read = "audit.read"
    logs_read = "logs.read"
    webhooks_replay = "webhooks.replay"
    withdrawals_read = "withdrawals.read"
    withdrawals_manage = "withdrawals.manage"
    platform_payouts_read = "platform_payouts.read"
    platform_payouts_manage = "platform_payouts.manage"
    ledger_read = "ledger.read"
    ledger_reconcile = "ledger.reconcile"
    events_read = "events.read"
    alerts_read = "alerts.read"
    jobs_read = "jobs.read"
    jobs_run = "jobs.run"
    jobs_manage = "jobs.manage"
    loans_read = "loans.read"
    loans_manage = "loans.manage"
    manual_settlement_read = "manual_settlement.read"
    manual_settlement_run = "manual_settlement.run"
    settlement_adjust = "settlement.adjust"
    calendar_manage = "calendar.manage"


class PartnerPermission(enum.StrEnum):
    """Partner-user permissions, always within the user's own partner (and its children)."""

    account_read = "account.read"
    users_manage = "users.manage"
    developer = "developer"
    audit_read = "audit.read"
    withdrawals = "withdrawals"


_EVERYONE = frozenset(AdminRole)
_ADMINS = frozenset({AdminRole.SUPER_ADMIN, AdminRole.ADMIN})
ROLE_PERMISSIONS: dict[Permission, frozenset[AdminRole]] = {
    Permission.partners_read: _EVERYONE,
    Permission.partners_write: _ADMINS,
    Permission.partner_secrets: _ADMINS,
    Permission.providers_read: frozenset(
        {AdminRole.SUPER_ADMIN, AdminRole.ADMIN, AdminRole.FINANCE, AdminRole.SUPPORT}
    ),
    Permission.providers_write: _ADMINS,
    Permission.admins_manage: frozenset({AdminRole.SUPER_ADMIN}),
    Permission.security_manage: frozenset({AdminRole.SUPER_ADMIN}),
    Permission.audit_read: frozenset({AdminRole.SUPER_ADMIN, AdminRole.ADMIN, AdminRole.SUPPORT}),
    Permission.logs_read: frozenset({AdminRole.SUPER_ADMIN, AdminRole.ADMIN, AdminRole.SUPPORT}),
    Permission.webhooks_replay: frozenset({AdminRole.SUPER_ADMIN, AdminRole.ADMIN, AdminRole.SUPPORT}),
    Permission.withdrawals_read: frozenset(
        {AdminRole.SUPER_ADMIN, AdminRole.ADMIN, AdminRole.FINANCE, AdminRole.SUPPORT}
    ),
    Permission.withdrawals_manage: frozenset({AdminRole.SUPER_ADMIN, AdminRole.ADMIN, AdminRole.FINANCE}),
    Permission.platform_payouts_read: frozenset({AdminRole.SUPER_ADMIN, AdminRole.ADMIN, AdminRole.FINANCE}),
    # The platform's own money leaves: the highest role only, with its second factor on every request.
    Permission.platform_payouts_manage: frozenset({AdminRole.SUPER_ADMIN}),
    Permission.ledger_read: _EVERYONE,
    Permission.ledger_reconcile: frozenset({AdminRole.SUPER_ADMIN, AdminRole.ADMIN, AdminRole.FINANCE}),
    # Outbox events carry what withdrawals.read shows (bank accounts, holder names): the same roles read them.
    Permission.events_read: frozenset({AdminRole.SUPER_ADMIN, AdminRole.ADMIN, AdminRole.FINANCE, AdminRole.SUPPORT}),
    # Alerts carry settlement and dashboard summaries as well as anomalies: every admin role reads them.
    Permission.alerts_read: _EVERYONE,
    # Job schedules and runs, like the alerts they send, are for every admin role to read.
    Permission.jobs_read: _EVERYONE,
    # Running a job now moves nothing a scheduled run would not: the roles that handle money may.
    Permission.jobs_run: frozenset({AdminRole.SUPER_ADMIN, AdminRole.ADMIN, AdminRole.FINANCE}),
    # Changing a cron or turning a job off decides when money settles for everyone: the highest role only
    # (the original let any ADMIN rewrite the settlement cron).
    Permission.jobs_manage: frozenset({AdminRole.SUPER_ADMIN}),
    # A partner's advances and loan-settled orders: what its balances (ledger.read, every role) already show.
    Permission.loans_read: _EVERYONE,
    # Lending platform money and redirecting orders' nets to repay it: the roles that handle money.
    Permission.loans_manage: frozenset({AdminRole.SUPER_ADMIN, AdminRole.ADMIN, AdminRole.FINANCE}),
    # Manual settlement moves partners' pending money to available by the admin's filters: the money roles,
    # who alone read what it did too (its exports list orders and amounts).
    Permission.manual_settlement_read: frozenset({AdminRole.SUPER_ADMIN, AdminRole.ADMIN, AdminRole.FINANCE}),
    Permission.manual_settlement_run: frozenset({AdminRole.SUPER_ADMIN, AdminRole.ADMIN, AdminRole.FINANCE}),
    # Recomputing fees after payment moves partners' money to or from the platform's fees: the money roles.
    Permission.settlement_adjust: frozenset({AdminRole.SUPER_ADMIN, AdminRole.ADMIN, AdminRole.FINANCE}),
    # Days off decide every partner's settlement dates and weekend fees (the original let any ADMIN edit them).
    Permission.calendar_manage: _ADMINS,
}
PARTNER_ROLE_PERMISSIONS: dict[PartnerPermission, frozenset[PartnerRole]] = {
    PartnerPermission.account_read: frozenset(PartnerRole),
    PartnerPermission.users_manage: frozenset({PartnerRole.OWNER}),
    PartnerPermission.developer: frozenset({PartnerRole.OWNER, PartnerRole.DEVELOPER}),
    PartnerPermission.audit_read: frozenset({PartnerRole.OWNER}),
    PartnerPermission.withdrawals: frozenset({PartnerRole.OWNER, PartnerRole.FINANCE}),
}


class PermissionDenied(Forbidden):
    code = "permission_denied"


class TwoFactorEnrolmentRequired(Forbidden):
    code = "two_factor_enrolment_required"


def require(permission: Permission) -> Callable[[AdminPrincipal], Awaitable[AdminPrincipal]]:
    """A dependency: the current admin, if their role has `permission`."""

    async def check(admin: CurrentAdmin) -> AdminPrincipal:
        if admin.missing_required_2fa:
            raise TwoFactorEnrolmentRequired("two-factor authentication is required: enrol at /api/v1/auth/2fa/setup")
        if admin.role not in ROLE_PERMISSIONS[permission]:
            raise PermissionDenied(f"the {admin.role.value} role may not do {permission.value}")
        return admin

    check.permission = permission  # type: ignore[attr-defined]  # read by the route x role test
    return check


def require_partner(permission: PartnerPermission) -> Callable[[PartnerUserPrincipal], Awaitable[PartnerUserPrincipal]]:
    """A dependency: the current partner user, if their role has `permission`."""

    async def check(user: CurrentPartnerUser) -> PartnerUserPrincipal:
        if user.role not in PARTNER_ROLE_PERMISSIONS[permission]:
            raise PermissionDenied(f"the {user.role.value} role may not do {permission.value}")
        return user

    check.permission = permission  # type: ignore[attr-defined]  # read by the route x role test
    return check
