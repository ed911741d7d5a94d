"""REST API (``/api/v1``): one router per resource; every route makes one ``ops`` call.

http/ includes ``router`` in the app and installs the error handlers; routes raise.
"""

from fastapi import APIRouter

from . import apps, bundles, categories, console, memories, system, tokens, uploads, users

__all__ = ["router"]

router = APIRouter(prefix="/api/v1")
router.include_router(memories.router)
router.include_router(apps.router)
router.include_router(system.router)
router.include_router(tokens.router)
router.include_router(categories.router)
router.include_router(console.router)
router.include_router(bundles.router)
router.include_router(uploads.router)
router.include_router(users.router)
