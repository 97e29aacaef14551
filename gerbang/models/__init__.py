"""Every table's model, imported here so Alembic and the mappers see all of them."""

from gerbang.models.admin_user import AdminRecoveryCode, AdminUser
from gerbang.models.api_key import ApiKey, SeenSignature
from gerbang.models.auth_session import AuthSession
from gerbang.models.base import Model
from gerbang.models.ledger import LedgerAccount, LedgerEntry, LedgerTransaction
from gerbang.models.partner import Partner
from gerbang.models.worker_heartbeat import WorkerHeartbeat

__all__ = [
    "AdminRecoveryCode",
    "AdminUser",
    "ApiKey",
    "AuthSession",
    "LedgerAccount",
    "LedgerEntry",
    "LedgerTransaction",
    "Model",
    "Partner",
    "SeenSignature",
    "WorkerHeartbeat",
]
