"""``/api/v1/users``: the users the web UI may switch between.

With auth off (loopback only) the server is one person's, and memories written through
``/mcp/<client>/http/<user>`` live in ``<user>``: the UI lists every user in the bucket and acts
as one through the ``X-Membucket-User`` header. With auth on a token is one user's: only it.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from .. import ops
from ..auth import Identity
from ..caller import get_identity, get_state
from .schemas import AUTHENTICATED, ERROR_RESPONSES, acting

__all__ = ["router"]

router = APIRouter(responses=ERROR_RESPONSES, dependencies=AUTHENTICATED)

Caller = Annotated[Identity, Depends(get_identity)]


class UsersOut(BaseModel):
    items: list[str]
    current: str
    switchable: bool  # auth off: the UI may act as any of them (X-Membucket-User)


@router.get("/users", response_model=UsersOut, tags=["ui"], summary="Users the UI may switch between")
def list_users(request: Request, identity: Caller):
    ops.check_caller(acting(request, identity, "read"))  # a paused app hears so here too
    state = get_state(request)
    if state.auth_required:
        return {"items": [identity.user], "current": identity.user, "switchable": False}
    users = sorted({*state.mb.users(), state.default_user, identity.user})
    return {"items": users, "current": identity.user, "switchable": True}
