"""What each admin role may do. docs/security.md states the same matrix for people; a test keeps the two
and the routes in agreement."""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable

from gerbang.auth.dependencies import CurrentAdmin
from gerbang.auth.sessions import AdminPrincipal, AdminRole
from gerbang.exceptions import Forbidden


class Permission(enum.StrEnum):
    partners_read = "partners.read"
    partners_write = "partners.write"
    ledger_read = "ledger.read"
    ledger_reconcile = "ledger.reconcile"


_EVERYONE = frozenset(AdminRole)
ROLE_PERMISSIONS: dict[Permission, frozenset[AdminRole]] = {
    Permission.partners_read: _EVERYONE,
    Permission.partners_write: frozenset({AdminRole.SUPER_ADMIN, AdminRole.ADMIN}),
    Permission.ledger_read: _EVERYONE,
    Permission.ledger_reconcile: frozenset({AdminRole.SUPER_ADMIN, AdminRole.ADMIN, AdminRole.FINANCE}),
}


class PermissionDenied(Forbidden):
    code = "permission_denied"


def allowed(role: AdminRole, permission: Permission) -> bool:
    return role in ROLE_PERMISSIONS[permission]


def require(permission: Permission) -> Callable[[AdminPrincipal], Awaitable[AdminPrincipal]]:
    """A dependency: the current admin, if their role has `permission`."""

    async def check(admin: CurrentAdmin) -> AdminPrincipal:
        if not allowed(admin.role, permission):
            raise PermissionDenied(f"the {admin.role.value} role may not do {permission.value}")
        return admin

    check.permission = permission  # type: ignore[attr-defined]  # read by the route x role test
    return check
