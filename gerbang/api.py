"""The partner and admin JSON API under `/api/v1`; each domain module adds its router here."""

from __future__ import annotations

from fastapi import APIRouter

from gerbang.admin import endpoints as admin_endpoints
from gerbang.auth import endpoints as auth_endpoints

router = APIRouter(prefix="/api/v1")
router.include_router(auth_endpoints.router)
router.include_router(admin_endpoints.router)
