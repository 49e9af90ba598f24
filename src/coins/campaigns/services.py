"""Campaign rules: creation and settings, the lifecycle, membership and invitations, tags, images.

Both front doors (JSON API and pages) call these; every change commits explicitly, writes the audit
trail in the same transaction, and sends its emails only through the outbox/queue after commit.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar
from uuid import UUID

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from coins.accounts.auth import CurrentUser
from coins.accounts.models import User
from coins.accounts.services import normalise_email, validate_email
from coins.campaigns.access import CampaignAccess, CampaignNotFound
from coins.campaigns.models import (
    CAMPAIGN_TYPES,
    PRICING,
    TAG_KINDS,
    Campaign,
    CampaignMember,
    Invitation,
    Tag,
)
from coins.coins.services import grant_initial_allocation, lock_campaign_exclusive
from coins.lib import audit
from coins.lib.db import commit, flush_unique, rollback
from coins.lib.errors import AppError, Conflict, InvalidInput, NotFound, PermissionDenied
from coins.lib.markdown import render_markdown
from coins.lib.media import BANNER, ICON, remove_image, store_image
from coins.notifications.mail import Mailer
from coins.notifications.triggers import (
    notify_campaign_event,
    notify_invitation,
    notify_manager_assigned,
)

logger = logging.getLogger("coins.campaigns")
T = TypeVar("T")

SLUG_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
COLOUR_RE = re.compile(r"^#[0-9a-f]{6}$")
INVITATION_LIFETIME = timedelta(days=7)
MAX_INVITES_AT_ONCE = 500
CORE_FIELDS = frozenset(
    {
        "campaign_type",
        "starts_at",
        "ends_at",
        "initial_allocation",
        "idea_submission_reward",
        "allow_reallocation",
        "allow_recycling",
        "max_allocation_per_idea",
        "min_allocation_amount",
        "pricing",
    }
)
# Who moves a campaign along its life: target status -> (allowed from, who).
TRANSITIONS: dict[str, tuple[str, str]] = {
    "active": ("draft", "manager"),
    "completed": ("active", "manager"),
    "archived": ("completed", "admin"),
}


class CampaignNotActive(AppError):
    error_code = "CAMPAIGN_002"
    status_code = 409
    default_message = "This campaign is not active."


class InvalidTransition(AppError):
    error_code = "CAMPAIGN_003"
    status_code = 409
    default_message = "That status change is not possible."


class SettingsFrozen(AppError):
    error_code = "CAMPAIGN_004"
    status_code = 409
    default_message = "Type, dates and coin policy are frozen once a campaign is active; ask an administrator."


class InvitationInvalid(AppError):
    error_code = "CAMPAIGN_005"
    status_code = 400
    default_message = "This invitation link is invalid, already used, revoked or expired."


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class CampaignFields:
    """Everything a campaign's settings form or API body may set (None: leave unchanged)."""

    slug: str | None = None
    title: str | None = None
    description: str | None = None
    campaign_type: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    initial_allocation: int | None = None
    idea_submission_reward: int | None = None
    allow_reallocation: bool | None = None
    allow_recycling: bool | None = None
    max_allocation_per_idea: int | None = None
    clear_max_allocation: bool = False
    min_allocation_amount: int | None = None
    pricing: str | None = None
    cost_cents: int | None = None

    def given(self) -> dict[str, Any]:
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "clear_max_allocation"}
        given = {name: value for name, value in values.items() if value is not None}
        if self.clear_max_allocation:
            given["max_allocation_per_idea"] = None
        return given


def validate_fields(values: dict[str, Any], *, current: Campaign | None) -> dict[str, str]:
    """Field messages for a complete picture of the campaign after the change."""
    problems: dict[str, str] = {}

    def final(name: str) -> Any:
        return values[name] if name in values else (getattr(current, name) if current is not None else None)

    slug = final("slug")
    if slug is None or not (3 <= len(slug) <= 64 and SLUG_RE.match(slug)):
        problems["slug"] = "Use 3 to 64 lower-case letters, digits and single hyphens, like team-ideas-2026."
    title = final("title")
    if title is None or not title.strip() or len(title.strip()) > 200:
        problems["title"] = "Give the campaign a title of at most 200 characters."
    if len(final("description") or "") > 20_000:
        problems["description"] = "Keep the description under 20,000 characters."
    if final("campaign_type") not in CAMPAIGN_TYPES:
        problems["campaign_type"] = "Choose open, mediated or closed."
    starts_at, ends_at = final("starts_at"), final("ends_at")
    if starts_at is None:
        problems["starts_at"] = "Choose when the campaign starts."
    if ends_at is None:
        problems["ends_at"] = "Choose when the campaign ends."
    if starts_at is not None and ends_at is not None and ends_at <= starts_at:
        problems["ends_at"] = "The end must be after the start."
    initial = final("initial_allocation")
    if initial is None or not 0 <= initial <= 1_000_000:
        problems["initial_allocation"] = "Between 0 and 1,000,000 coins."
    reward = final("idea_submission_reward")
    if reward is None or not 0 <= reward <= 100_000:
        problems["idea_submission_reward"] = "Between 0 and 100,000 coins."
    minimum = final("min_allocation_amount")
    if minimum is None or not 1 <= minimum <= 1_000_000:
        problems["min_allocation_amount"] = "At least 1 coin."
    maximum = final("max_allocation_per_idea")
    if maximum is not None and (maximum < 1 or (minimum is not None and maximum < minimum)):
        problems["max_allocation_per_idea"] = "Leave empty for no limit, or at least the minimum allocation."
    if final("pricing") not in PRICING:
        problems["pricing"] = "Choose linear or quadratic."
    cost = final("cost_cents")
    if cost is not None and cost < 0:
        problems["cost_cents"] = "The cost cannot be negative."
    return problems


def campaign_snapshot(campaign: Campaign) -> dict[str, Any]:
    """The audit trail's before/after picture of a campaign's settings."""
    names = ["slug", "title", "status", *sorted(CORE_FIELDS), "cost_cents"]
    snapshot = {name: getattr(campaign, name) for name in names}
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in snapshot.items()}


@dataclass(frozen=True)
class InviteOutcome:
    invited: list[str] = field(default_factory=list)
    resent: list[str] = field(default_factory=list)
    already_members: list[str] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int


def parse_email_list(raw: str) -> list[str]:
    """Addresses pasted or uploaded as CSV: split on commas, semicolons, spaces; keep order, drop repeats."""
    seen: dict[str, None] = {}
    for token in re.split(r"[\s,;]+", raw):
        cleaned = token.strip().strip('"').strip("'").strip("<>")
        if cleaned and "@" in cleaned:
            seen.setdefault(normalise_email(cleaned), None)
        elif cleaned and cleaned.lower() not in {"email", "e-mail", "address", "name"}:
            seen.setdefault(cleaned, None)
    return list(seen)


class CampaignService:
    def __init__(self, session: AsyncSession, mailer: Mailer) -> None:
        self.db = session
        self.mailer = mailer

    # Reading ----------------------------------------------------------------------------------------------

    async def access(self, slug: str, viewer: CurrentUser | None, *, lock: bool = False) -> CampaignAccess:
        query = select(Campaign).where(Campaign.slug == slug)
        if lock:
            query = query.with_for_update()
        campaign = await self.db.scalar(query)
        if campaign is None:
            raise CampaignNotFound()
        role = None
        if viewer is not None:
            role = await self.db.scalar(
                select(CampaignMember.role).where(
                    CampaignMember.campaign_id == campaign.id,
                    CampaignMember.user_id == viewer.id,
                    CampaignMember.left_at.is_(None),
                )
            )
        return CampaignAccess(campaign=campaign, viewer=viewer, role=role)

    async def visible(self, slug: str, viewer: CurrentUser | None) -> CampaignAccess:
        return (await self.access(slug, viewer)).require_view()

    async def list_visible(
        self,
        viewer: CurrentUser | None,
        *,
        status: str | None = None,
        mine: bool = False,
        limit: int = 50,
        offset: int = 0,
    ) -> Page[tuple[Campaign, str | None]]:
        """Campaigns the viewer may see, each with the viewer's role in it (None when not a member)."""
        membership = (
            select(CampaignMember.campaign_id, CampaignMember.role)
            .where(CampaignMember.user_id == viewer.id, CampaignMember.left_at.is_(None))
            .subquery()
            if viewer is not None
            else None
        )
        query = select(Campaign, membership.c.role if membership is not None else None)  # type: ignore[arg-type]
        if membership is not None:
            query = query.outerjoin(membership, membership.c.campaign_id == Campaign.id)
        public = and_(Campaign.status != "draft", Campaign.campaign_type != "closed")
        condition: ColumnElement[bool]
        if viewer is not None and viewer.is_admin:
            condition = Campaign.id.is_not(None)
        elif viewer is not None and viewer.is_sponsor:
            condition = or_(Campaign.status != "draft", membership.c.role.is_not(None))  # type: ignore[union-attr]
        elif membership is not None:
            condition = or_(public, membership.c.role.is_not(None))
        else:
            condition = public
        query = query.where(condition)
        if mine and membership is not None:
            query = query.where(membership.c.role.is_not(None))
        # Archived campaigns show only when asked for by status.
        query = query.where(Campaign.status == status if status else Campaign.status != "archived")
        total = await self.db.scalar(select(func.count()).select_from(query.subquery())) or 0
        order = [
            func.array_position(["active", "draft", "completed", "archived"], Campaign.status),
            Campaign.ends_at,
        ]
        rows = await self.db.execute(query.order_by(*order).limit(limit).offset(offset))
        return Page(items=[(row[0], row[1]) for row in rows], total=total)

    async def member_count(self, campaign_id: UUID) -> int:
        return int(
            await self.db.scalar(
                select(func.count())
                .select_from(CampaignMember)
                .where(CampaignMember.campaign_id == campaign_id, CampaignMember.left_at.is_(None))
            )
            or 0
        )

    # Creating and configuring -------------------------------------------------------------------------

    async def create(self, actor: CurrentUser, data: CampaignFields, manager_emails: list[str]) -> Campaign:
        if not actor.is_admin:
            raise PermissionDenied("Only administrators create campaigns.")
        values = data.given()
        defaults = {
            "description": "",
            "campaign_type": "open",
            "initial_allocation": 100,
            "idea_submission_reward": 0,
            "allow_reallocation": True,
            "allow_recycling": True,
            "min_allocation_amount": 1,
            "pricing": "linear",
        }
        values = {**defaults, **values}
        problems = validate_fields(values, current=None)
        bad_emails = [e for e in manager_emails if validate_email(e)]
        if bad_emails:
            problems["manager_emails"] = "Not valid email addresses: " + ", ".join(bad_emails)
        if problems:
            raise InvalidInput("Please correct the highlighted fields.", fields=problems)
        values["title"] = values["title"].strip()
        campaign = Campaign(
            **values,
            description_html=render_markdown(values["description"]),
            status="draft",
            created_by_id=actor.id,
        )
        self.db.add(campaign)
        if not await flush_unique(self.db):
            raise Conflict(
                "That slug is already used by another campaign.",
                error_code="CAMPAIGN_006",
                details={"fields": {"slug": "Already used by another campaign: choose another."}},
            )
        audit.record(
            self.db,
            actor_id=actor.id,
            action="campaign.created",
            entity_type="campaign",
            entity_id=campaign.id,
            after=campaign_snapshot(campaign),
        )
        await self._assign_managers(actor, campaign, manager_emails)
        await commit(self.db)
        logger.info("campaign created", extra={"campaign": campaign.slug})
        return campaign

    async def update(self, access: CampaignAccess, data: CampaignFields) -> Campaign:
        access.require_manage()
        campaign = access.campaign
        changes = {k: v for k, v in data.given().items() if getattr(campaign, k) != v}
        if "cost_cents" in changes and not access.is_admin:
            raise PermissionDenied("Only administrators enter a campaign's cost.")
        frozen = sorted(CORE_FIELDS & changes.keys())
        if campaign.status != "draft" and frozen and not access.is_admin:
            raise SettingsFrozen(details={"fields": dict.fromkeys(frozen, "Frozen while the campaign runs.")})
        if "slug" in changes and campaign.status != "draft":
            raise SettingsFrozen("The address (slug) cannot change once a campaign has started.")
        problems = validate_fields(changes, current=campaign)
        if problems:
            raise InvalidInput("Please correct the highlighted fields.", fields=problems)
        if not changes:
            return campaign
        before = campaign_snapshot(campaign)
        for name, value in changes.items():
            setattr(campaign, name, value.strip() if name == "title" else value)
        if "description" in changes:
            campaign.description_html = render_markdown(campaign.description)
        if not await flush_unique(self.db):
            raise Conflict(
                "That slug is already used by another campaign.",
                error_code="CAMPAIGN_006",
                details={"fields": {"slug": "Already used by another campaign: choose another."}},
            )
        audit.record(
            self.db,
            actor_id=access.viewer.id if access.viewer else None,
            action="campaign.updated",
            entity_type="campaign",
            entity_id=campaign.id,
            before=before,
            after=campaign_snapshot(campaign),
        )
        await commit(self.db)
        return campaign

    async def set_image(self, access: CampaignAccess, kind: str, data: bytes, media_root: Any) -> Campaign:
        access.require_manage()
        rule = BANNER if kind == "banner" else ICON
        campaign = access.campaign
        path = store_image(media_root, f"campaigns/{campaign.id}", data, rule)
        old = campaign.banner_path if kind == "banner" else campaign.icon_path
        setattr(campaign, f"{kind}_path", path)
        audit.record(
            self.db,
            actor_id=access.viewer.id if access.viewer else None,
            action=f"campaign.{kind}_uploaded",
            entity_type="campaign",
            entity_id=campaign.id,
            before={kind: old},
            after={kind: path},
        )
        try:
            await commit(self.db)
        except Exception:
            remove_image(media_root, path)
            raise
        remove_image(media_root, old)
        return campaign

    # Lifecycle ----------------------------------------------------------------------------------------

    async def transition(self, slug: str, viewer: CurrentUser, target: str) -> Campaign:
        """Move a campaign along draft -> active -> completed -> archived, as SPEC.md allows."""
        if target not in TRANSITIONS:
            raise InvalidTransition(f"Unknown status {target!r}.")
        if target == "completed":
            # Coin operations in flight finish first, and none starts until this commits (they hold the same
            # advisory lock shared): nothing moves once a campaign is completed.  Taken before the row lock,
            # the order every other path takes them in.
            campaign_id = await self.db.scalar(select(Campaign.id).where(Campaign.slug == slug))
            if campaign_id is not None:
                await lock_campaign_exclusive(self.db, campaign_id)
        # Lock the row: a concurrent join or invitation acceptance waits, then sees the new status.
        access = (await self.access(slug, viewer, lock=True)).require_view()
        source, actor_kind = TRANSITIONS[target]
        if actor_kind == "admin":
            access.require_admin()
        else:
            access.require_manage()
        campaign = access.campaign
        if campaign.status != source:
            raise InvalidTransition(
                f"A {campaign.status} campaign cannot become {target}; only a {source} one can.",
                details={"status": campaign.status, "requested": target},
            )
        now = datetime.now(UTC)
        if target == "active" and campaign.ends_at <= now:
            raise InvalidTransition("This campaign's end date has passed: move the end date first.")
        before = campaign.status
        campaign.status = target
        setattr(
            campaign,
            {"active": "activated_at", "completed": "completed_at", "archived": "archived_at"}[target],
            now,
        )
        if target == "active":
            members = await self.db.scalars(
                select(CampaignMember.user_id).where(
                    CampaignMember.campaign_id == campaign.id, CampaignMember.left_at.is_(None)
                )
            )
            granted = await grant_initial_allocation(
                self.db,
                campaign_id=campaign.id,
                user_ids=list(members),
                amount=campaign.initial_allocation,
                actor_id=viewer.id,
            )
            logger.info("campaign activated", extra={"campaign": campaign.slug, "granted": granted})
        if target in {"active", "completed"}:
            await notify_campaign_event(
                self.db,
                "campaign_activated" if target == "active" else "campaign_completed",
                campaign,
                actor_id=viewer.id,
                mailer=self.mailer,
            )
        audit.record(
            self.db,
            actor_id=viewer.id,
            action=f"campaign.{target}",
            entity_type="campaign",
            entity_id=campaign.id,
            before={"status": before},
            after={"status": target},
        )
        await commit(self.db)
        return campaign

    async def complete_due(self) -> list[str]:
        """Complete every active campaign whose end date has passed (the cron job; safe to run anywhere)."""
        due = list(
            await self.db.scalars(
                select(Campaign.id)
                .where(Campaign.status == "active", Campaign.ends_at <= func.now())
                .order_by(Campaign.id)
            )
        )
        for campaign_id in due:  # as in `transition`: in-flight coin operations finish, new ones wait
            await lock_campaign_exclusive(self.db, campaign_id)
        result = await self.db.execute(
            update(Campaign)
            .where(Campaign.id.in_(due), Campaign.status == "active", Campaign.ends_at <= func.now())
            .values(status="completed", completed_at=func.now())
            .returning(Campaign.id, Campaign.slug)
        )
        rows = result.all()
        for row in rows:
            audit.record(
                self.db,
                actor_id=None,
                action="campaign.completed",
                entity_type="campaign",
                entity_id=row.id,
                before={"status": "active"},
                after={"status": "completed", "by": "end date"},
            )
            campaign = await self.db.get_one(Campaign, row.id)
            await notify_campaign_event(self.db, "campaign_completed", campaign, mailer=self.mailer)
        await commit(self.db)
        return [row.slug for row in rows]

    async def send_ending_notices(self, *, within: timedelta = timedelta(hours=48)) -> int:
        """Tell members of campaigns ending within 48 hours, once per campaign.

        The conditional update claims each campaign: with several workers running the job at the same
        moment, only one of them gets the row back, so members are told exactly once.
        """
        claimed = await self.db.execute(
            update(Campaign)
            .where(
                Campaign.status == "active",
                Campaign.ending_notice_sent_at.is_(None),
                Campaign.ends_at > func.now(),
                Campaign.ends_at <= func.now() + within,
            )
            .values(ending_notice_sent_at=func.now())
            .returning(Campaign.id)
        )
        campaign_ids = [row.id for row in claimed]
        sent = 0
        for campaign_id in campaign_ids:
            campaign = await self.db.get_one(Campaign, campaign_id)
            notified = await notify_campaign_event(self.db, "campaign_ending", campaign, mailer=self.mailer)
            sent += notified.recipients
        await commit(self.db)
        return sent

    # Membership ---------------------------------------------------------------------------------------

    async def join(self, slug: str, viewer: CurrentUser) -> CampaignAccess:
        access = (await self.access(slug, viewer, lock=True)).require_view()
        campaign = access.campaign
        if access.is_member:
            return access
        if campaign.campaign_type == "closed":
            raise PermissionDenied("This campaign is by invitation only.")
        if campaign.status != "active":
            raise CampaignNotActive("You can join a campaign while it is active.")
        await self._add_member(campaign, viewer.id, "member", actor_id=viewer.id)
        await commit(self.db)
        return replace(access, role="member")

    async def _add_member(self, campaign: Campaign, user_id: UUID, role: str, *, actor_id: UUID | None) -> None:
        """Add (or re-activate) a membership; while the campaign runs, the newcomer gets their coins."""
        existing = await self.db.scalar(
            select(CampaignMember).where(CampaignMember.campaign_id == campaign.id, CampaignMember.user_id == user_id)
        )
        if existing is None:
            self.db.add(CampaignMember(campaign_id=campaign.id, user_id=user_id, role=role))
        else:
            existing.left_at = None
            if role == "manager":
                existing.role = "manager"
        await self.db.flush()
        if campaign.status == "active":
            await grant_initial_allocation(
                self.db,
                campaign_id=campaign.id,
                user_ids=[user_id],
                amount=campaign.initial_allocation,
                actor_id=actor_id,
            )
        audit.record(
            self.db,
            actor_id=actor_id,
            action="campaign.member_added",
            entity_type="campaign",
            entity_id=campaign.id,
            after={"user_id": str(user_id), "role": role},
        )

    async def leave(self, slug: str, viewer: CurrentUser) -> None:
        access = (await self.access(slug, viewer)).require_view()
        if not access.is_member:
            raise InvalidInput("You are not a member of this campaign.")
        await self.db.execute(
            update(CampaignMember)
            .where(CampaignMember.campaign_id == access.campaign.id, CampaignMember.user_id == viewer.id)
            .values(left_at=func.now())
        )
        audit.record(
            self.db,
            actor_id=viewer.id,
            action="campaign.member_left",
            entity_type="campaign",
            entity_id=access.campaign.id,
            before={"role": access.role},
        )
        await commit(self.db)

    async def members(self, access: CampaignAccess, *, limit: int = 50, offset: int = 0) -> Page[Any]:
        if not access.require_view().can_see_members:
            raise PermissionDenied("Only managers, sponsors and administrators see the member list.")
        base = (
            select(
                User.id,
                User.email,
                User.full_name,
                CampaignMember.role,
                CampaignMember.joined_at,
            )
            .join(CampaignMember, CampaignMember.user_id == User.id)
            .where(CampaignMember.campaign_id == access.campaign.id, CampaignMember.left_at.is_(None))
        )
        total = await self.db.scalar(select(func.count()).select_from(base.subquery())) or 0
        rows = await self.db.execute(
            base.order_by(CampaignMember.role.desc(), User.full_name).limit(limit).offset(offset)
        )
        return Page(items=list(rows), total=total)

    async def assign_managers(self, access: CampaignAccess, emails: list[str]) -> InviteOutcome:
        access.require_admin()
        bad = [e for e in emails if validate_email(e)]
        if bad:
            raise InvalidInput("Some addresses are not valid.", fields={"emails": ", ".join(bad)})
        assert access.viewer is not None
        outcome = await self._assign_managers(access.viewer, access.campaign, emails)
        await commit(self.db)
        return outcome

    async def _assign_managers(self, actor: CurrentUser, campaign: Campaign, emails: list[str]) -> InviteOutcome:
        """Existing accounts become managers at once; other addresses get a manager invitation."""
        made, invited = [], []
        for email in dict.fromkeys(normalise_email(e) for e in emails):
            user_id = await self.db.scalar(select(User.id).where(User.email == email))
            if user_id is not None:
                await self._add_member(campaign, user_id, "manager", actor_id=actor.id)
                made.append(email)
                await notify_manager_assigned(
                    self.db,
                    self.mailer,
                    user_id=user_id,
                    campaign=campaign,
                    actor_id=actor.id,
                    actor=actor.full_name,
                )
            else:
                await self._invite_one(actor, campaign, email, "manager")
                invited.append(email)
        return InviteOutcome(invited=invited, already_members=made)

    # Invitations ---------------------------------------------------------------------------------------

    async def invite(self, access: CampaignAccess, emails: list[str], role: str = "member") -> InviteOutcome:
        access.require_manage()
        if role not in {"member", "manager"}:
            raise InvalidInput("Choose member or manager.", fields={"role": "Choose member or manager."})
        if role == "manager" and not access.is_admin:
            raise PermissionDenied("Only administrators assign managers.")
        if not emails:
            raise InvalidInput("Add at least one email address.", fields={"emails": "Add at least one address."})
        if len(emails) > MAX_INVITES_AT_ONCE:
            raise InvalidInput(
                f"At most {MAX_INVITES_AT_ONCE} addresses at once.",
                fields={"emails": f"At most {MAX_INVITES_AT_ONCE} addresses at once."},
            )
        assert access.viewer is not None
        campaign = access.campaign
        invited, resent, members, invalid = [], [], [], []
        for email in dict.fromkeys(normalise_email(raw) for raw in emails):
            if validate_email(email):
                invalid.append(email)
                continue
            is_member = await self.db.scalar(
                select(func.count())
                .select_from(CampaignMember)
                .join(User, User.id == CampaignMember.user_id)
                .where(
                    CampaignMember.campaign_id == campaign.id,
                    CampaignMember.left_at.is_(None),
                    User.email == email,
                )
            )
            if is_member:
                members.append(email)
                continue
            pending = await self.db.scalar(
                select(Invitation).where(
                    Invitation.campaign_id == campaign.id,
                    Invitation.email == email,
                    Invitation.status == "pending",
                )
            )
            if pending is not None:
                await self._send_invitation(pending, campaign, access.viewer, self._refresh_token(pending))
                resent.append(email)
            else:
                await self._invite_one(access.viewer, campaign, email, role)
                invited.append(email)
        audit.record(
            self.db,
            actor_id=access.viewer.id,
            action="campaign.invited",
            entity_type="campaign",
            entity_id=campaign.id,
            after={"invited": invited, "resent": resent, "role": role},
        )
        await commit(self.db)
        return InviteOutcome(invited=invited, resent=resent, already_members=members, invalid=invalid)

    async def _invite_one(self, actor: CurrentUser, campaign: Campaign, email: str, role: str) -> Invitation:
        token = secrets.token_urlsafe(32)
        invitation = Invitation(
            campaign_id=campaign.id,
            email=email,
            role=role,
            token_hash=_hash(token),
            status="pending",
            invited_by_id=actor.id,
            expires_at=datetime.now(UTC) + INVITATION_LIFETIME,
            send_count=1,
        )
        self.db.add(invitation)
        await self.db.flush()
        await self._send_invitation(invitation, campaign, actor, token)
        return invitation

    def _refresh_token(self, invitation: Invitation) -> str:
        """A resend issues a new link (the old one stops working) valid for another 7 days."""
        token = secrets.token_urlsafe(32)
        invitation.token_hash = _hash(token)
        invitation.sent_at = datetime.now(UTC)
        invitation.expires_at = invitation.sent_at + INVITATION_LIFETIME
        invitation.send_count += 1
        return token

    async def _send_invitation(
        self, invitation: Invitation, campaign: Campaign, actor: CurrentUser, token: str
    ) -> None:
        accept_url = f"{self.mailer.settings.public_url}/invitations/{token}"
        if await notify_invitation(
            self.db, self.mailer, email=invitation.email, campaign=campaign, inviter=actor.full_name,
            role=invitation.role, accept_url=accept_url, expires_at=invitation.expires_at,
        ):  # fmt: skip
            return  # an account has this address: in-app, and by email as its owner prefers
        self.mailer.send(
            self.db,
            to=invitation.email,
            template="invitation",
            context={
                "campaign": campaign,
                "inviter": actor.full_name,
                "role": invitation.role,
                "accept_url": accept_url,
                "expires_at": invitation.expires_at,
            },
        )

    async def invitations(self, access: CampaignAccess, *, limit: int = 50, offset: int = 0) -> Page[Invitation]:
        access.require_manage()
        await self._expire_old(access.campaign.id)
        base = select(Invitation).where(Invitation.campaign_id == access.campaign.id)
        total = await self.db.scalar(select(func.count()).select_from(base.subquery())) or 0
        rows = await self.db.scalars(base.order_by(Invitation.created_at.desc()).limit(limit).offset(offset))
        return Page(items=list(rows), total=total)

    async def _expire_old(self, campaign_id: UUID | None = None) -> None:
        statement = (
            update(Invitation)
            .where(Invitation.status == "pending", Invitation.expires_at <= func.now())
            .values(status="expired")
        )
        if campaign_id is not None:
            statement = statement.where(Invitation.campaign_id == campaign_id)
        await self.db.execute(statement)
        await commit(self.db)

    async def _managed_invitation(self, invitation_id: UUID, viewer: CurrentUser) -> tuple[Invitation, Campaign]:
        invitation = await self.db.get(Invitation, invitation_id)
        if invitation is None:
            raise NotFound("No such invitation.")
        campaign = await self.db.get_one(Campaign, invitation.campaign_id)
        access = await self.access(campaign.slug, viewer)
        access.require_manage()
        return invitation, campaign

    async def resend(self, invitation_id: UUID, viewer: CurrentUser) -> Invitation:
        invitation, campaign = await self._managed_invitation(invitation_id, viewer)
        if invitation.status not in {"pending", "expired"}:
            raise InvalidTransition(f"An {invitation.status} invitation cannot be sent again.")
        invitation.status = "pending"
        await self._send_invitation(invitation, campaign, viewer, self._refresh_token(invitation))
        audit.record(
            self.db,
            actor_id=viewer.id,
            action="invitation.resent",
            entity_type="invitation",
            entity_id=invitation.id,
            after={"email": invitation.email},
        )
        try:
            await commit(self.db)
        except IntegrityError:
            await rollback(self.db)
            raise Conflict("A newer invitation to this address is already pending.") from None
        return invitation

    async def revoke(self, invitation_id: UUID, viewer: CurrentUser) -> Invitation:
        invitation, _ = await self._managed_invitation(invitation_id, viewer)
        if invitation.status != "pending":
            raise InvalidTransition(f"Only a pending invitation can be revoked; this one is {invitation.status}.")
        invitation.status = "revoked"
        audit.record(
            self.db,
            actor_id=viewer.id,
            action="invitation.revoked",
            entity_type="invitation",
            entity_id=invitation.id,
            before={"status": "pending"},
            after={"status": "revoked"},
        )
        await commit(self.db)
        return invitation

    async def invitation_for_token(self, token: str) -> tuple[Invitation, Campaign]:
        """The pending, unexpired invitation behind a link (read-only: for the landing page)."""
        invitation = await self.db.scalar(select(Invitation).where(Invitation.token_hash == _hash(token)))
        if invitation is None or invitation.status != "pending" or invitation.expires_at <= datetime.now(UTC):
            raise InvitationInvalid()
        return invitation, await self.db.get_one(Campaign, invitation.campaign_id)

    async def accept(self, token: str, viewer: CurrentUser) -> Campaign:
        """Use an invitation link: single use, unexpired, and only by the account of the invited address."""
        invitation, campaign = await self.invitation_for_token(token)
        if viewer.email != invitation.email:
            raise PermissionDenied(
                f"This invitation was sent to {invitation.email}. Log in with that address to accept it."
            )
        # Lock the campaign (a concurrent activation then grants us, or we see it active and grant ourselves),
        # then claim the invitation in one statement so two tabs cannot both use it.
        locked = await self.db.scalar(select(Campaign).where(Campaign.id == campaign.id).with_for_update())
        assert locked is not None
        claimed = await self.db.execute(
            update(Invitation)
            .where(
                Invitation.id == invitation.id,
                Invitation.status == "pending",
                Invitation.expires_at > func.now(),
            )
            .values(status="accepted", accepted_at=func.now(), accepted_by_id=viewer.id)
            .returning(Invitation.id)
        )
        if claimed.first() is None:
            await rollback(self.db)
            raise InvitationInvalid()
        if locked.status in {"completed", "archived"}:
            await rollback(self.db)
            raise CampaignNotActive("This campaign has ended; the invitation can no longer be used.")
        await self._add_member(locked, viewer.id, invitation.role, actor_id=viewer.id)
        await commit(self.db)
        return locked

    # Tags ---------------------------------------------------------------------------------------------

    async def tags(self, access: CampaignAccess, *, include_retired: bool = True) -> list[Tag]:
        access.require_view()
        query = select(Tag).where(Tag.campaign_id == access.campaign.id)
        if not include_retired:
            query = query.where(Tag.is_active.is_(True))
        return list(await self.db.scalars(query.order_by(Tag.is_active.desc(), Tag.kind, func.lower(Tag.name))))

    async def save_tag(
        self,
        access: CampaignAccess,
        *,
        tag_id: UUID | None,
        name: str | None,
        description: str | None = None,
        colour: str | None = None,
        kind: str | None = None,
        parent_id: UUID | None = None,
        clear_parent: bool = False,
        is_active: bool | None = None,
    ) -> Tag:
        """Create (tag_id None) or edit a tag; retiring is `is_active=False` (the tag stays on old ideas)."""
        access.require_manage()
        campaign = access.campaign
        tag = None
        if tag_id is not None:
            tag = await self.db.scalar(select(Tag).where(Tag.id == tag_id, Tag.campaign_id == campaign.id))
            if tag is None:
                raise NotFound("No such tag in this campaign.")
        problems: dict[str, str] = {}
        final_name = (name if name is not None else (tag.name if tag else "")).strip()
        if not final_name or len(final_name) > 50:
            problems["name"] = "Give the tag a name of at most 50 characters."
        final_colour = (colour if colour is not None else (tag.colour if tag else "#8a5a00")).lower()
        if not COLOUR_RE.match(final_colour):
            problems["colour"] = "Use a colour like #1f6feb."
        final_kind = kind if kind is not None else (tag.kind if tag else "category")
        if final_kind not in TAG_KINDS:
            problems["kind"] = "Choose category, feature, priority or platform."
        if description is not None and len(description) > 500:
            problems["description"] = "Keep the description under 500 characters."
        final_parent = (
            None if clear_parent else (parent_id if parent_id is not None else (tag.parent_id if tag else None))
        )
        if final_parent is not None:
            problems.update(await self._parent_problems(campaign.id, tag, final_parent))
        if problems:
            raise InvalidInput("Please correct the highlighted fields.", fields=problems)
        before = _tag_snapshot(tag) if tag else {}
        if tag is None:
            tag = Tag(campaign_id=campaign.id)
            self.db.add(tag)
        tag.name = final_name
        tag.colour = final_colour
        tag.kind = final_kind
        tag.parent_id = final_parent
        if description is not None:
            tag.description = description.strip()
        elif tag_id is None:
            tag.description = ""
        if is_active is not None:
            tag.is_active = is_active
        elif tag_id is None:
            tag.is_active = True
        if not await flush_unique(self.db):
            raise InvalidInput(
                "Please correct the highlighted fields.",
                fields={"name": "Another tag of this campaign already has this name."},
            )
        audit.record(
            self.db,
            actor_id=access.viewer.id if access.viewer else None,
            action="tag.created" if not before else "tag.updated",
            entity_type="tag",
            entity_id=tag.id,
            before=before,
            after=_tag_snapshot(tag),
        )
        await commit(self.db)
        return tag

    async def _parent_problems(self, campaign_id: UUID, tag: Tag | None, parent_id: UUID) -> dict[str, str]:
        parent = await self.db.scalar(select(Tag).where(Tag.id == parent_id, Tag.campaign_id == campaign_id))
        if parent is None:
            return {"parent_id": "Choose a parent tag of this campaign."}
        # Walk up from the parent: reaching the tag itself would make a cycle.
        seen: set[UUID] = set()
        current: Tag | None = parent
        while current is not None and current.id not in seen:
            if tag is not None and current.id == tag.id:
                return {"parent_id": "A tag cannot sit under itself or one of its own sub-tags."}
            seen.add(current.id)
            current = await self.db.get(Tag, current.parent_id) if current.parent_id else None
        return {}


def _tag_snapshot(tag: Tag) -> dict[str, Any]:
    return {
        "name": tag.name,
        "colour": tag.colour,
        "kind": tag.kind,
        "parent_id": str(tag.parent_id) if tag.parent_id else None,
        "is_active": tag.is_active,
    }
