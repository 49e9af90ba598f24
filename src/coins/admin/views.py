"""Admin pages: users (search, roles, deactivate), the outbox, maintenance mode."""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from coins.accounts.auth import admin_required, require_user
from coins.accounts.services.administration import UserAdministration
from coins.admin.services import Outbox
from coins.coins.audit import run_audit
from coins.lib.errors import AppError
from coins.lib.forms import form_data, redirect_to
from coins.lib.htmx import wants_fragment
from coins.lib.maintenance import get_maintenance, switch_maintenance
from coins.lib.sessions import flash

PAGE_SIZE = 25
USER_TABLE = "user-table"  # the users page's table: what its search box asks for
_URL = re.compile(r"https?://[^\s<>\"]+")


def _page(page: int) -> int:
    return max(1, page)


class AdminPages(Controller):
    path = "/admin"
    guards = [admin_required]
    include_in_schema = False

    @get("/", name="admin.home")
    async def home(
        self,
        request: Request[Any, Any, Any],
        user_admin: NamedDependency[UserAdministration],
        outbox: NamedDependency[Outbox],
    ) -> Template:
        users = await user_admin.search(limit=1)
        emails = await outbox.search(limit=1)
        maintenance = await get_maintenance(request.app.state.valkey)
        return Template(
            "admin/home.html",
            context={"user_total": users.total, "outbox_total": emails.total, "maintenance": maintenance},
        )

    @get("/users", name="admin.users")
    async def users(
        self,
        request: HTMXRequest,
        user_admin: NamedDependency[UserAdministration],
        q: FromQuery[str] = "",
        page: FromQuery[int] = 1,
    ) -> Template:
        page = _page(page)
        result = await user_admin.search(query=q, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
        context = {
            "users": result.items,
            "total": result.total,
            "q": q,
            "page": page,
            "pages": max(1, -(-result.total // PAGE_SIZE)),
        }
        # The search box asks for just the table; Back and reload get the whole page.
        template = "admin/_user_table.html" if wants_fragment(request, USER_TABLE) else "admin/users.html"
        return Template(template, context=context)

    @get("/users/{user_id:uuid}", name="admin.user")
    async def user(self, user_id: FromPath[UUID], user_admin: NamedDependency[UserAdministration]) -> Template:
        return Template("admin/user.html", context={"subject": await user_admin.get_user(user_id)})

    @post("/users/{user_id:uuid}/roles", name="admin.user.roles")
    async def change_role(
        self,
        request: Request[Any, Any, Any],
        user_id: FromPath[UUID],
        user_admin: NamedDependency[UserAdministration],
    ) -> Redirect:
        values = await form_data(request)
        role = values.get("role", "")
        granted = values.get("granted") == "true"
        try:
            user = await user_admin.set_role(require_user(request).id, user_id, role, granted=granted)  # type: ignore[arg-type]
        except AppError as error:
            flash(request, error.message, "error")
        else:
            verb = "is now" if granted else "is no longer"
            flash(request, f"{user.full_name} {verb} {'an' if role == 'admin' else 'a'} {role}.", "success")
        return redirect_to(request, "admin.user", user_id=user_id)

    @post("/users/{user_id:uuid}/active", name="admin.user.active")
    async def change_active(
        self,
        request: Request[Any, Any, Any],
        user_id: FromPath[UUID],
        user_admin: NamedDependency[UserAdministration],
    ) -> Redirect:
        values = await form_data(request)
        active = values.get("active") == "true"
        try:
            user = await user_admin.set_active(require_user(request).id, user_id, active=active)
        except AppError as error:
            flash(request, error.message, "error")
        else:
            flash(request, f"{user.full_name} is {'active again' if active else 'deactivated'}.", "success")
        return redirect_to(request, "admin.user", user_id=user_id)

    @get("/outbox", name="admin.outbox")
    async def outbox(
        self, outbox: NamedDependency[Outbox], to: FromQuery[str] = "", page: FromQuery[int] = 1
    ) -> Template:
        page = _page(page)
        result = await outbox.search(to=to, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
        return Template(
            "admin/outbox.html",
            context={
                "messages": result.items,
                "total": result.total,
                "to": to,
                "page": page,
                "pages": max(1, -(-result.total // PAGE_SIZE)),
            },
        )

    @get("/outbox/{message_id:uuid}", name="admin.outbox.message")
    async def outbox_message(self, message_id: FromPath[UUID], outbox: NamedDependency[Outbox]) -> Template:
        message = await outbox.get(message_id)
        return Template("admin/email.html", context={"message": message, "links": _URL.findall(message.body_text)})

    @get("/audit", name="admin.audit")
    async def audit(self, request: Request[Any, Any, Any]) -> Template:
        report = await run_audit(request.app.state.db_engine)
        return Template("admin/audit.html", context={"report": report})

    @post("/maintenance", name="admin.maintenance")
    async def maintenance(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Redirect:
        values = await form_data(request)
        enabled = values.get("enabled") == "true"
        admin = require_user(request)
        await switch_maintenance(
            request.app.state.valkey,
            db_session,
            enabled=enabled,
            message=values.get("message", "").strip()[:500],
            by=admin.email,
            actor_id=admin.id,
        )
        flash(
            request,
            "Maintenance mode is on: everyone but admins sees the maintenance page."
            if enabled
            else "Maintenance mode is off.",
            "success",
        )
        return redirect_to(request, "admin.home")
