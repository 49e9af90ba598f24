"""Campaign pages: list, home, creation and settings, members and invitations, tags, invitation links."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from litestar import Controller, Request, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from coins.accounts.auth import CurrentUser, current_user, login_required, require_user
from coins.accounts.services import AccountService
from coins.accounts.views import start_session
from coins.campaigns.access import CampaignAccess
from coins.campaigns.models import CAMPAIGN_TYPES, PRICING, TAG_KINDS
from coins.campaigns.services import CampaignFields, CampaignService, InvitationInvalid, parse_email_list
from coins.coins.services import balance_of
from coins.lib.errors import AppError, InvalidInput, PermissionDenied
from coins.lib.forms import form_data, form_errors, redirect, render_form
from coins.lib.sessions import flash
from coins.settings import Settings

PAGE_SIZE = 25
DATETIME_FORMAT = "%Y-%m-%dT%H:%M"
POLICY_INTS = ("initial_allocation", "idea_submission_reward", "min_allocation_amount")


def _parse_datetime(raw: str) -> datetime | None:
    """`<input type="datetime-local">` sends local wall time without a zone; the form says UTC."""
    raw = raw.strip()
    if not raw:
        return None
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def fields_from_form(values: dict[str, str], *, include_slug: bool) -> tuple[CampaignFields, dict[str, str]]:
    """Turn the settings form into CampaignFields, collecting messages for values that don't parse."""
    problems: dict[str, str] = {}
    numbers: dict[str, int | None] = {}
    for name in (*POLICY_INTS, "max_allocation_per_idea", "cost"):
        raw = values.get(name, "").strip()
        if not raw:
            numbers[name] = None
            continue
        try:
            numbers[name] = int(raw)
        except ValueError:
            problems[name] = "Enter a whole number."
    starts_at, ends_at = (
        _parse_datetime(values.get("starts_at", "")),
        _parse_datetime(values.get("ends_at", "")),
    )
    if values.get("starts_at") and starts_at is None:
        problems["starts_at"] = "Enter a date and time."
    if values.get("ends_at") and ends_at is None:
        problems["ends_at"] = "Enter a date and time."
    cost = numbers.get("cost")
    data = CampaignFields(
        slug=values.get("slug", "").strip().lower() if include_slug else None,
        title=values.get("title"),
        description=values.get("description"),
        campaign_type=values.get("campaign_type") or None,
        starts_at=starts_at,
        ends_at=ends_at,
        initial_allocation=numbers.get("initial_allocation"),
        idea_submission_reward=numbers.get("idea_submission_reward"),
        allow_reallocation=values.get("allow_reallocation") == "on" if "policy_form" in values else None,
        allow_recycling=values.get("allow_recycling") == "on" if "policy_form" in values else None,
        max_allocation_per_idea=numbers.get("max_allocation_per_idea"),
        clear_max_allocation="policy_form" in values and numbers.get("max_allocation_per_idea") is None,
        min_allocation_amount=numbers.get("min_allocation_amount"),
        pricing=values.get("pricing") or None,
        cost_cents=cost * 100 if cost is not None else None,
    )
    return data, problems


def form_values(campaign: Any) -> dict[str, str]:
    return {
        "slug": campaign.slug,
        "title": campaign.title,
        "description": campaign.description,
        "campaign_type": campaign.campaign_type,
        "starts_at": campaign.starts_at.strftime(DATETIME_FORMAT),
        "ends_at": campaign.ends_at.strftime(DATETIME_FORMAT),
        "initial_allocation": str(campaign.initial_allocation),
        "idea_submission_reward": str(campaign.idea_submission_reward),
        "allow_reallocation": "on" if campaign.allow_reallocation else "",
        "allow_recycling": "on" if campaign.allow_recycling else "",
        "max_allocation_per_idea": str(campaign.max_allocation_per_idea or ""),
        "min_allocation_amount": str(campaign.min_allocation_amount),
        "pricing": campaign.pricing,
        "cost": str(campaign.cost_cents // 100) if campaign.cost_cents is not None else "",
    }


CHOICES: dict[str, Any] = {"campaign_types": CAMPAIGN_TYPES, "pricings": PRICING, "tag_kinds": TAG_KINDS}


async def campaign_context(access: CampaignAccess, campaigns: CampaignService, db: AsyncSession) -> dict[str, Any]:
    """What every campaign page shows around its content: header, my role and balance, tabs."""
    viewer = access.viewer
    balance = None
    if viewer is not None and access.is_member:
        balance = await balance_of(db, campaign_id=access.campaign.id, user_id=viewer.id)
    return {
        "campaign": access.campaign,
        "access": access,
        "balance": balance,
        "member_count": await campaigns.member_count(access.campaign.id),
        **CHOICES,
    }


class CampaignPages(Controller):
    path = "/campaigns"
    include_in_schema = False

    @get("/", name="campaigns")
    async def index(
        self,
        request: Request[Any, Any, Any],
        campaigns: NamedDependency[CampaignService],
        mine: FromQuery[bool] = False,
        status: FromQuery[str | None] = None,
        page: FromQuery[int] = 1,
    ) -> Template:
        page = max(1, page)
        viewer = current_user(request)
        status = status if status in {"draft", "active", "completed", "archived"} else None
        result = await campaigns.list_visible(
            viewer,
            status=status,
            mine=mine and viewer is not None,
            limit=PAGE_SIZE,
            offset=(page - 1) * PAGE_SIZE,
        )
        return Template(
            "campaigns/index.html",
            context={
                "rows": result.items,
                "total": result.total,
                "mine": mine,
                "status": status or "",
                "page": page,
                "pages": max(1, -(-result.total // PAGE_SIZE)),
            },
            headers={"Vary": "HX-Request"},
        )

    @get("/new", name="campaigns.new", guards=[login_required])
    async def new(self, request: Request[Any, Any, Any]) -> Template:
        _require_admin(request)
        now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        defaults = {
            "campaign_type": "open",
            "starts_at": now.strftime(DATETIME_FORMAT),
            "ends_at": now.replace(year=now.year + (1 if now.month == 12 else 0), month=(now.month % 12) + 1).strftime(
                DATETIME_FORMAT
            ),
            "initial_allocation": "100",
            "idea_submission_reward": "0",
            "min_allocation_amount": "1",
            "allow_reallocation": "on",
            "allow_recycling": "on",
            "pricing": "linear",
        }
        return render_form("campaigns/new.html", values=defaults, **CHOICES)

    @post("/new", name="campaigns.create", guards=[login_required])
    async def create(
        self, request: Request[Any, Any, Any], campaigns: NamedDependency[CampaignService]
    ) -> Template | Redirect:
        viewer = _require_admin(request)
        values = await form_data(request)
        data, problems = fields_from_form({**values, "policy_form": "1"}, include_slug=True)
        managers = parse_email_list(values.get("manager_emails", ""))
        try:
            if problems:
                raise InvalidInput("Please correct the highlighted fields.", fields=problems)
            campaign = await campaigns.create(viewer, data, managers)
        except AppError as error:
            return render_form(
                "campaigns/new.html", values=values, errors=form_errors(error), status_code=422, **CHOICES
            )
        flash(request, f"“{campaign.title}” is created as a draft.", "success")
        return redirect(f"/campaigns/{campaign.slug}/settings")

    @get("/{slug:str}", name="campaign")
    async def home(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        campaigns: NamedDependency[CampaignService],
        db_session: NamedDependency[AsyncSession],
    ) -> Template:
        access = await campaigns.visible(slug, current_user(request))
        context = await campaign_context(access, campaigns, db_session)
        context["tags"] = await campaigns.tags(access, include_retired=False)
        return Template("campaigns/home.html", context=context)

    @post("/{slug:str}/join", name="campaign.join", guards=[login_required])
    async def join(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        campaigns: NamedDependency[CampaignService],
    ) -> Redirect:
        try:
            access = await campaigns.join(slug, require_user(request))
        except AppError as error:
            if error.status_code == 404:
                raise
            flash(request, error.message, "error")
        else:
            flash(request, f"Welcome to “{access.campaign.title}”!", "success")
        return redirect(f"/campaigns/{slug}")

    @post("/{slug:str}/leave", name="campaign.leave", guards=[login_required])
    async def leave(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        campaigns: NamedDependency[CampaignService],
    ) -> Redirect:
        await campaigns.leave(slug, require_user(request))
        flash(request, "You left the campaign. Coins you placed stay where they are.", "info")
        return redirect(f"/campaigns/{slug}")

    # Settings (managers) ----------------------------------------------------------------------------

    @get("/{slug:str}/settings", name="campaign.settings", guards=[login_required])
    async def settings_page(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        campaigns: NamedDependency[CampaignService],
        db_session: NamedDependency[AsyncSession],
    ) -> Template:
        access = (await campaigns.access(slug, require_user(request))).require_manage()
        context = await campaign_context(access, campaigns, db_session)
        return render_form("campaigns/settings.html", values=form_values(access.campaign), **context)

    @post("/{slug:str}/settings", name="campaign.settings.save", guards=[login_required])
    async def save_settings(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        campaigns: NamedDependency[CampaignService],
        db_session: NamedDependency[AsyncSession],
    ) -> Template | Redirect:
        access = (await campaigns.access(slug, require_user(request))).require_manage()
        values = await form_data(request)
        editable_core = access.campaign.status == "draft" or access.is_admin
        kept = values.keys() if editable_core else {"title", "description"}
        submitted: dict[str, str] = {key: value for key, value in values.items() if key in kept}
        if not access.is_admin:
            submitted.pop("cost", None)
        data, problems = fields_from_form(submitted, include_slug=access.campaign.status == "draft")
        try:
            if problems:
                raise InvalidInput("Please correct the highlighted fields.", fields=problems)
            campaign = await campaigns.update(access, data)
        except AppError as error:
            # Re-read: a refused save may have left the loaded campaign expired.
            access = await campaigns.access(slug, access.viewer)
            context = await campaign_context(access, campaigns, db_session)
            return render_form(
                "campaigns/settings.html",
                values={**form_values(access.campaign), **values},
                errors=form_errors(error),
                status_code=422,
                **context,
            )
        flash(request, "Settings saved.", "success")
        return redirect(f"/campaigns/{campaign.slug}/settings")

    @post("/{slug:str}/status", name="campaign.status", guards=[login_required])
    async def change_status(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        campaigns: NamedDependency[CampaignService],
    ) -> Redirect:
        values = await form_data(request)
        target = values.get("status", "")
        try:
            campaign = await campaigns.transition(slug, require_user(request), target)
        except AppError as error:
            if error.status_code == 404:
                raise
            flash(request, error.message, "error")
            return redirect(f"/campaigns/{slug}/settings")
        messages = {
            "active": "The campaign is active: members have their coins and can submit ideas.",
            "completed": "The campaign is completed: nothing moves any more.",
            "archived": "The campaign is archived.",
        }
        flash(request, messages[campaign.status], "success")
        return redirect(f"/campaigns/{slug}" if campaign.status != "archived" else "/campaigns")

    @post("/{slug:str}/images", name="campaign.images", guards=[login_required])
    async def upload_image(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        campaigns: NamedDependency[CampaignService],
        settings: NamedDependency[Settings],
    ) -> Redirect:
        access = (await campaigns.access(slug, require_user(request))).require_manage()
        form = await request.form()
        kind = form.get("kind")
        upload = form.get("file")
        if kind not in {"banner", "icon"} or not isinstance(upload, UploadFile):
            flash(request, "Choose an image file to upload.", "error")
            return redirect(f"/campaigns/{slug}/settings")
        try:
            await campaigns.set_image(access, str(kind), await upload.read(), settings.media_path)
        except AppError as error:
            message = next(iter(error.details.get("fields", {}).values()), error.message)
            flash(request, str(message), "error")
        else:
            flash(request, f"The {kind} is updated.", "success")
        return redirect(f"/campaigns/{slug}/settings")

    # Members and invitations -------------------------------------------------------------------------

    @get("/{slug:str}/members", name="campaign.members", guards=[login_required])
    async def members(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        campaigns: NamedDependency[CampaignService],
        db_session: NamedDependency[AsyncSession],
        page: FromQuery[int] = 1,
    ) -> Template:
        access = await campaigns.access(slug, require_user(request))
        return await self._members_page(access, campaigns, db_session, max(1, page))

    async def _members_page(
        self,
        access: CampaignAccess,
        campaigns: CampaignService,
        db: AsyncSession,
        page: int,
        *,
        errors: dict[str, str] | None = None,
        values: dict[str, str] | None = None,
        status_code: int = 200,
    ) -> Template:
        members = await campaigns.members(access, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
        invitations = await campaigns.invitations(access, limit=100) if access.can_manage else None
        context = await campaign_context(access, campaigns, db)
        context.update(
            members=members.items,
            total=members.total,
            page=page,
            pages=max(1, -(-members.total // PAGE_SIZE)),
            invitations=invitations.items if invitations else [],
        )
        return render_form("campaigns/members.html", values=values, errors=errors, status_code=status_code, **context)

    @post("/{slug:str}/invitations", name="campaign.invite", guards=[login_required])
    async def invite(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        campaigns: NamedDependency[CampaignService],
        db_session: NamedDependency[AsyncSession],
    ) -> Template | Redirect:
        access = await campaigns.access(slug, require_user(request))
        form = await request.form()
        pasted = str(form.get("emails") or "")
        upload = form.get("csv")
        if isinstance(upload, UploadFile):
            raw = await upload.read()
            if len(raw) > 1_000_000:
                return await self._members_page(
                    access,
                    campaigns,
                    db_session,
                    1,
                    errors={"csv": "The file is larger than 1 MB."},
                    values={"emails": pasted},
                    status_code=422,
                )
            pasted += "\n" + raw.decode("utf-8", errors="replace")
        role = str(form.get("role") or "member")
        try:
            outcome = await campaigns.invite(access, parse_email_list(pasted), role)
        except AppError as error:
            if error.status_code == 404:
                raise
            return await self._members_page(
                access,
                campaigns,
                db_session,
                1,
                errors=form_errors(error),
                values={"emails": pasted},
                status_code=422 if error.status_code < 500 else error.status_code,
            )
        parts = []
        if outcome.invited:
            parts.append(f"Invited {len(outcome.invited)}")
        if outcome.resent:
            parts.append(f"sent again to {len(outcome.resent)}")
        if outcome.already_members:
            parts.append(f"{len(outcome.already_members)} already member(s)")
        if outcome.invalid:
            parts.append("not valid: " + ", ".join(outcome.invalid))
        flash(request, "; ".join(parts) + ".", "success" if not outcome.invalid else "warning")
        return redirect(f"/campaigns/{slug}/members")

    @post("/{slug:str}/managers", name="campaign.managers", guards=[login_required])
    async def assign_managers(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        campaigns: NamedDependency[CampaignService],
    ) -> Redirect:
        access = await campaigns.access(slug, require_user(request))
        values = await form_data(request)
        try:
            outcome = await campaigns.assign_managers(access, parse_email_list(values.get("emails", "")))
        except AppError as error:
            if error.status_code == 404:
                raise
            flash(request, error.message, "error")
        else:
            flash(
                request,
                f"{len(outcome.already_members)} manager(s) added, {len(outcome.invited)} invited.",
                "success",
            )
        return redirect(f"/campaigns/{slug}/members")

    @post(
        "/{slug:str}/invitations/{invitation_id:uuid}/{action:str}",
        name="campaign.invitation",
        guards=[login_required],
    )
    async def invitation_action(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        invitation_id: FromPath[UUID],
        action: FromPath[str],
        campaigns: NamedDependency[CampaignService],
    ) -> Redirect:
        viewer = require_user(request)
        try:
            if action == "resend":
                invitation = await campaigns.resend(invitation_id, viewer)
                flash(request, f"Sent again to {invitation.email} with a new link.", "success")
            elif action == "revoke":
                invitation = await campaigns.revoke(invitation_id, viewer)
                flash(request, f"The invitation to {invitation.email} is revoked.", "success")
            else:
                flash(request, "Unknown action.", "error")
        except AppError as error:
            if error.status_code == 404:
                raise
            flash(request, error.message, "error")
        return redirect(f"/campaigns/{slug}/members")

    # Tags ---------------------------------------------------------------------------------------------

    @get("/{slug:str}/tags", name="campaign.tags", guards=[login_required])
    async def tags_page(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        campaigns: NamedDependency[CampaignService],
        db_session: NamedDependency[AsyncSession],
    ) -> Template:
        access = (await campaigns.access(slug, require_user(request))).require_manage()
        return await self._tags_page(access, campaigns, db_session)

    async def _tags_page(
        self,
        access: CampaignAccess,
        campaigns: CampaignService,
        db: AsyncSession,
        *,
        errors: dict[str, str] | None = None,
        values: dict[str, str] | None = None,
        status_code: int = 200,
    ) -> Template:
        context = await campaign_context(access, campaigns, db)
        context["tag_list"] = await campaigns.tags(access)
        return render_form(
            "campaigns/tags.html",
            values=values or {"colour": "#8a5a00", "kind": "category"},
            errors=errors,
            status_code=status_code,
            **context,
        )

    @post("/{slug:str}/tags", name="campaign.tags.save", guards=[login_required])
    async def save_tag(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        campaigns: NamedDependency[CampaignService],
        db_session: NamedDependency[AsyncSession],
    ) -> Template | Redirect:
        access = (await campaigns.access(slug, require_user(request))).require_manage()
        values = await form_data(request)
        try:
            tag_id = UUID(values["tag_id"]) if values.get("tag_id") else None
            parent = UUID(values["parent_id"]) if values.get("parent_id") else None
        except ValueError:
            raise InvalidInput("Unknown tag.") from None
        active = {"true": True, "false": False}.get(values.get("is_active", ""))
        retiring_only = tag_id is not None and set(values) <= {"_csrf_token", "tag_id", "is_active"}
        try:
            tag = await campaigns.save_tag(
                access,
                tag_id=tag_id,
                name=None if retiring_only else values.get("name", ""),
                description=None if retiring_only else values.get("description", ""),
                colour=None if retiring_only else values.get("colour", "#8a5a00"),
                kind=None if retiring_only else values.get("kind", "category"),
                parent_id=parent,
                clear_parent=not retiring_only and parent is None,
                is_active=active,
            )
        except AppError as error:
            if error.status_code == 404 and not isinstance(error, InvalidInput):
                raise
            access = await campaigns.access(slug, access.viewer)
            return await self._tags_page(
                access, campaigns, db_session, errors=form_errors(error), values=values, status_code=422
            )
        if retiring_only:
            flash(request, f"“{tag.name}” is {'active again' if tag.is_active else 'retired'}.", "success")
        else:
            flash(request, f"Tag “{tag.name}” saved.", "success")
        return redirect(f"/campaigns/{slug}/tags")


class InvitationPages(Controller):
    path = "/invitations"
    include_in_schema = False

    @get("/{token:str}", name="invitation")
    async def landing(
        self,
        request: Request[Any, Any, Any],
        token: FromPath[str],
        campaigns: NamedDependency[CampaignService],
        accounts: NamedDependency[AccountService],
    ) -> Template:
        try:
            invitation, campaign = await campaigns.invitation_for_token(token)
        except InvitationInvalid as error:
            return render_form(
                "campaigns/invitation.html",
                errors={"_form": error.message},
                status_code=400,
                campaign=None,
                invitation=None,
                token=token,
                viewer=None,
                has_account=False,
            )
        viewer = current_user(request)
        has_account = await accounts.get_one_or_none(email=invitation.email) is not None
        return render_form(
            "campaigns/invitation.html",
            values={"email": invitation.email},
            invitation=invitation,
            campaign=campaign,
            token=token,
            viewer=viewer,
            has_account=has_account,
        )

    @post("/{token:str}", name="invitation.accept")
    async def accept(
        self,
        request: Request[Any, Any, Any],
        token: FromPath[str],
        campaigns: NamedDependency[CampaignService],
        accounts: NamedDependency[AccountService],
    ) -> Template | Redirect:
        """Accept while logged in, or sign up with the invited address and accept in one go."""
        try:
            invitation, campaign = await campaigns.invitation_for_token(token)
        except InvitationInvalid as error:
            return render_form(
                "campaigns/invitation.html",
                errors={"_form": error.message},
                status_code=400,
                campaign=None,
                invitation=None,
                token=token,
                viewer=None,
                has_account=False,
            )
        viewer = current_user(request)
        values = await form_data(request)
        if viewer is None:
            try:
                user = await accounts.register(
                    email=invitation.email,
                    full_name=values.get("full_name", ""),
                    password=values.get("password", ""),
                )
            except AppError as error:
                return render_form(
                    "campaigns/invitation.html",
                    values={"email": invitation.email, "full_name": values.get("full_name", "")},
                    errors=form_errors(error),
                    status_code=422,
                    invitation=invitation,
                    campaign=campaign,
                    token=token,
                    viewer=None,
                    has_account=False,
                )
            start_session(request, user)
            viewer = CurrentUser(
                id=user.id,
                email=user.email,
                full_name=user.full_name,
                is_admin=user.is_admin,
                is_sponsor=user.is_sponsor,
                security_stamp=user.security_stamp,
                via="session",
            )
        try:
            accepted = await campaigns.accept(token, viewer)
        except AppError as error:
            flash(request, error.message, "error")
            return redirect(f"/invitations/{token}")
        flash(request, f"You joined “{accepted.title}”.", "success")
        return redirect(f"/campaigns/{accepted.slug}")


def _require_admin(request: Request[Any, Any, Any]) -> CurrentUser:
    viewer = require_user(request)
    if not viewer.is_admin:
        raise PermissionDenied("Only administrators create campaigns.")
    return viewer
