"""The partner and admin JSON API under `/api/v1`; each domain module adds its router here."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1")
