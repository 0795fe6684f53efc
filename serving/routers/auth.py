"""``/auth/me``: who the presented key is (its fingerprint and scopes, never the key)."""

from __future__ import annotations

from fastapi import APIRouter

from serving.deps import Authenticated
from serving.schemas import ERRORS, Me
from serving.settings import API_PREFIX

router = APIRouter(prefix=f"{API_PREFIX}/auth", tags=["auth"])


@router.get("/me", response_model=Me, responses=ERRORS, summary="The caller's key and scopes")
async def me(principal: Authenticated) -> dict:
    return {"fingerprint": principal.fingerprint, "scopes": sorted(principal.scopes)}
