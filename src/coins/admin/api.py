"""Admin part of the JSON API: users and roles, maintenance mode."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from coins.accounts.api import user_read
from coins.accounts.auth import admin_required, require_user
from coins.accounts.schemas import ActiveChange, RoleChange, UserList, UserRead
from coins.accounts.services.administration import UserAdministration
from coins.lib.maintenance import get_maintenance, switch_maintenance


class MaintenanceRead(msgspec.Struct, kw_only=True):
    enabled: bool
    message: str = ""
    since: str = ""
    by: str = ""


class MaintenanceChange(msgspec.Struct, kw_only=True):
    enabled: bool
    message: Annotated[str, msgspec.Meta(max_length=500)] = ""


class AdminApiController(Controller):
    path = "/api/admin"
    guards = [admin_required]
    tags = ["admin"]

    @get("/users", summary="List and search users")
    async def users(
        self,
        user_admin: NamedDependency[UserAdministration],
        q: FromQuery[str] = "",
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = 50,
        offset: Annotated[int, QueryParameter(ge=0)] = 0,
    ) -> UserList:
        page = await user_admin.search(query=q, limit=limit, offset=offset)
        return UserList(items=[user_read(u) for u in page.items], total=page.total, limit=limit, offset=offset)

    @post("/users/{user_id:uuid}/roles", status_code=200, summary="Grant or revoke a system role")
    async def change_role(
        self,
        request: Request[Any, Any, Any],
        user_id: FromPath[UUID],
        data: JSONBody[RoleChange],
        user_admin: NamedDependency[UserAdministration],
    ) -> UserRead:
        user = await user_admin.set_role(require_user(request).id, user_id, data.role, granted=data.granted)
        return user_read(user)

    @post("/users/{user_id:uuid}/active", status_code=200, summary="Deactivate or reactivate a user")
    async def change_active(
        self,
        request: Request[Any, Any, Any],
        user_id: FromPath[UUID],
        data: JSONBody[ActiveChange],
        user_admin: NamedDependency[UserAdministration],
    ) -> UserRead:
        user = await user_admin.set_active(require_user(request).id, user_id, active=data.is_active)
        return user_read(user)

    @get("/maintenance", summary="Is maintenance mode on?")
    async def maintenance(self, request: Request[Any, Any, Any]) -> MaintenanceRead:
        state = await get_maintenance(request.app.state.valkey)
        return MaintenanceRead(enabled=state.enabled, message=state.message, since=state.since, by=state.by)

    @put("/maintenance", summary="Switch maintenance mode on or off for every replica")
    async def change_maintenance(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[MaintenanceChange],
        db_session: NamedDependency[AsyncSession],
    ) -> MaintenanceRead:
        admin = require_user(request)
        state = await switch_maintenance(
            request.app.state.valkey,
            db_session,
            enabled=data.enabled,
            message=data.message,
            by=admin.email,
            actor_id=admin.id,
        )
        return MaintenanceRead(enabled=state.enabled, message=state.message, since=state.since, by=state.by)
