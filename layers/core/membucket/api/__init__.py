"""REST API (``/api/v1``): one router per resource; every route makes one ``ops`` call."""

from fastapi import APIRouter

from . import apps, bundles, categories, console, memories, system, tokens
from .deps import ServerState
from .errors import install_error_handlers

__all__ = ["router", "ServerState", "install_error_handlers"]

router = APIRouter(prefix="/api/v1")
router.include_router(memories.router)
router.include_router(apps.router)
router.include_router(system.router)
router.include_router(tokens.router)
router.include_router(categories.router)
router.include_router(console.router)
router.include_router(bundles.router)
