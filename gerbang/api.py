"""The partner and admin JSON API under `/api/v1`; each domain module adds its router here."""

from __future__ import annotations

from fastapi import APIRouter

from gerbang.admin import endpoints as admin_endpoints
from gerbang.auth import endpoints as auth_endpoints
from gerbang.auth import session_endpoints
from gerbang.client import endpoints as client_endpoints
from gerbang.order import endpoints as order_endpoints

router = APIRouter(prefix="/api/v1")
router.include_router(auth_endpoints.router)
router.include_router(session_endpoints.admin_router)
router.include_router(session_endpoints.partner_user_router)
router.include_router(admin_endpoints.router)
router.include_router(client_endpoints.router)
router.include_router(order_endpoints.router)
