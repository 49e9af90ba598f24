"""The admin section's platforms: register, rotate and revoke keys, and their webhook endpoints."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

from coins.accounts.auth import CurrentUser, admin_required, require_user
from coins.campaigns.services.reading import CampaignReader
from coins.lib.errors import AppError
from coins.lib.forms import form_errors, form_values_and_list, redirect_to, render_form
from coins.lib.sessions import flash
from coins.platforms.models import WebhookDelivery
from coins.platforms.services.registry import PlatformService
from coins.platforms.webhooks.endpoints import EndpointInput, WebhookService


class PlatformAdminPages(Controller):
    path = "/admin"
    guards = [admin_required]
    include_in_schema = False

    async def _list_page(
        self,
        platforms: PlatformService,
        campaigns: CampaignReader,
        viewer: CurrentUser,
        *,
        values: dict[str, str] | None = None,
        chosen: list[str] | None = None,
        errors: dict[str, str] | None = None,
        status_code: int = 200,
    ) -> Template:
        page = await platforms.list_all(limit=200)
        choices = await campaigns.list_visible(viewer, limit=200)
        return render_form(
            "platforms/admin_platforms.html",
            values=values or {},
            errors=errors,
            status_code=status_code,
            platforms=page.items,
            total=page.total,
            campaign_choices=[campaign for campaign, _ in choices.items],
            chosen=set(chosen or []),
        )

    def _key_page(self, platform_name: str, platform_id: UUID, api_key: str, *, rotated: bool) -> Template:
        return Template(
            "platforms/admin_key.html",
            context={"name": platform_name, "platform_id": platform_id, "api_key": api_key, "rotated": rotated},
            headers={"Cache-Control": "no-store"},
        )

    @get("/platforms", name="admin.platforms")
    async def platforms_page(
        self,
        request: Request[Any, Any, Any],
        platforms: NamedDependency[PlatformService],
        campaign_reader: NamedDependency[CampaignReader],
    ) -> Template:
        return await self._list_page(platforms, campaign_reader, require_user(request))

    @post("/platforms", name="admin.platforms.create")
    async def register(
        self,
        request: Request[Any, Any, Any],
        platforms: NamedDependency[PlatformService],
        campaign_reader: NamedDependency[CampaignReader],
    ) -> Template:
        viewer = require_user(request)
        values, slugs = await form_values_and_list(request, "campaigns")
        try:
            issued = await platforms.register(
                viewer, name=values.get("name", ""), owner_email=values.get("owner_email", ""), campaigns=slugs
            )
        except AppError as error:
            return await self._list_page(
                platforms,
                campaign_reader,
                viewer,
                values=values,
                chosen=slugs,
                errors=form_errors(error),
                status_code=422,
            )
        return self._key_page(issued.platform.name, issued.platform.id, issued.api_key, rotated=False)

    @get("/platforms/{platform_id:uuid}", name="admin.platform")
    async def platform_page(
        self,
        request: Request[Any, Any, Any],
        platform_id: FromPath[UUID],
        platforms: NamedDependency[PlatformService],
        campaign_reader: NamedDependency[CampaignReader],
        webhooks: NamedDependency[WebhookService],
    ) -> Template:
        view = await platforms.get(platform_id)
        endpoints = (await webhooks.list_for_platform(platform_id, limit=100)).items
        deliveries: dict[UUID, list[WebhookDelivery]] = {}
        for endpoint in endpoints:
            deliveries[endpoint.id] = (await webhooks.deliveries(None, endpoint.id, limit=10)).items
        choices = await campaign_reader.list_visible(require_user(request), limit=200)
        return render_form(
            "platforms/admin_platform.html",
            values={"name": view.platform.name, "owner_email": view.platform.owner_email},
            platform=view.platform,
            allowed=view.campaigns,
            chosen={c.slug for c in view.campaigns},
            campaign_choices=[campaign for campaign, _ in choices.items],
            endpoints=endpoints,
            deliveries=deliveries,
        )

    @post("/platforms/{platform_id:uuid}", name="admin.platform.save")
    async def save(
        self, request: Request[Any, Any, Any], platform_id: FromPath[UUID], platforms: NamedDependency[PlatformService]
    ) -> Redirect:
        values, slugs = await form_values_and_list(request, "campaigns")
        try:
            await platforms.update(
                require_user(request),
                platform_id,
                name=values.get("name"),
                owner_email=values.get("owner_email"),
                campaigns=slugs,
            )
        except AppError as error:
            if error.status_code == 404:
                raise
            message = "; ".join(form_errors(error).values())
            flash(request, message, "error")
        else:
            flash(request, "Platform saved.", "success")
        return redirect_to(request, "admin.platform", platform_id=platform_id)

    @post("/platforms/{platform_id:uuid}/rotate", name="admin.platform.rotate")
    async def rotate(
        self, request: Request[Any, Any, Any], platform_id: FromPath[UUID], platforms: NamedDependency[PlatformService]
    ) -> Template | Redirect:
        try:
            issued = await platforms.rotate_key(require_user(request), platform_id)
        except AppError as error:
            if error.status_code == 404:
                raise
            flash(request, error.message, "error")
            return redirect_to(request, "admin.platform", platform_id=platform_id)
        return self._key_page(issued.platform.name, platform_id, issued.api_key, rotated=True)

    @post("/platforms/{platform_id:uuid}/revoke", name="admin.platform.revoke")
    async def revoke(
        self, request: Request[Any, Any, Any], platform_id: FromPath[UUID], platforms: NamedDependency[PlatformService]
    ) -> Redirect:
        platform = await platforms.revoke(require_user(request), platform_id)
        flash(request, f"{platform.name} is revoked: its key no longer works and its webhooks stop.", "success")
        return redirect_to(request, "admin.platform", platform_id=platform_id)

    @post("/webhooks/{endpoint_id:uuid}/test", name="admin.webhook.test")
    async def send_test(
        self, request: Request[Any, Any, Any], endpoint_id: FromPath[UUID], webhooks: NamedDependency[WebhookService]
    ) -> Redirect:
        endpoint = await webhooks.get(None, endpoint_id)
        try:
            await webhooks.send_test(None, endpoint_id)
        except AppError as error:
            flash(request, error.message, "error")
        else:
            flash(request, f"A test event is on its way to {endpoint.url}.", "success")
        return redirect_to(request, "admin.platform", platform_id=endpoint.platform_id)

    @post("/webhooks/{endpoint_id:uuid}/enable", name="admin.webhook.enable")
    async def enable(
        self, request: Request[Any, Any, Any], endpoint_id: FromPath[UUID], webhooks: NamedDependency[WebhookService]
    ) -> Redirect:
        endpoint = await webhooks.update(
            None, endpoint_id, EndpointInput(enabled=True), admin_id=require_user(request).id
        )
        flash(request, f"{endpoint.url} is enabled again.", "success")
        return redirect_to(request, "admin.platform", platform_id=endpoint.platform_id)
