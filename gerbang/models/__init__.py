"""Every table's model, imported here so Alembic and the mappers see all of them."""

from gerbang.models.access import ApiRequestLog, AuditEvent, IpAllowEntry
from gerbang.models.api_key import ApiKey, SeenSignature
from gerbang.models.auth_session import AuthSession
from gerbang.models.base import Model
from gerbang.models.events import Alert, OutboxEvent, ProviderCallback, WebhookAttempt, WebhookEvent
from gerbang.models.ledger import LedgerAccount, LedgerEntry, LedgerTransaction
from gerbang.models.loan import Advance, LoanRepayment, LoanSettlementJob
from gerbang.models.order import IdempotencyKey, Order, ProviderAttempt
from gerbang.models.partner import Partner
from gerbang.models.platform_setting import PlatformSetting
from gerbang.models.provider_account import ProviderAccount, ProviderAccountVolume
from gerbang.models.sandbox import SandboxCharge, SandboxDisbursement
from gerbang.models.scheduler import JobRun, ScheduledJob
from gerbang.models.settlement import SettlementBatch
from gerbang.models.settlement_adjustment import SettlementAdjustment, SettlementAdjustmentItem
from gerbang.models.user import AdminUser, PartnerUser, RecoveryCode
from gerbang.models.withdrawal import Withdrawal
from gerbang.models.worker_heartbeat import WorkerHeartbeat

__all__ = [
    "AdminUser",
    "Advance",
    "Alert",
    "ApiKey",
    "ApiRequestLog",
    "AuditEvent",
    "AuthSession",
    "IdempotencyKey",
    "IpAllowEntry",
    "JobRun",
    "LedgerAccount",
    "LedgerEntry",
    "LedgerTransaction",
    "LoanRepayment",
    "LoanSettlementJob",
    "Model",
    "Order",
    "OutboxEvent",
    "Partner",
    "PartnerUser",
    "PlatformSetting",
    "ProviderAccount",
    "ProviderAccountVolume",
    "ProviderAttempt",
    "ProviderCallback",
    "RecoveryCode",
    "SandboxCharge",
    "SandboxDisbursement",
    "ScheduledJob",
    "SeenSignature",
    "SettlementAdjustment",
    "SettlementAdjustmentItem",
    "SettlementBatch",
    "WebhookAttempt",
    "WebhookEvent",
    "Withdrawal",
    "WorkerHeartbeat",
]
