"""Invitations by email (single-use links, valid 7 days; pending / accepted / expired / revoked) and
administrators assigning managers by email (existing accounts at once, other addresses by invitation).

The link's token is stored hashed only.  Who hears of an invitation, and how (in-app and by email for an
existing account, by email for an address without one), is the notifications domain's part: it listens to
`InvitationSent`.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import UUID

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from coins.accounts.auth import CurrentUser
from coins.accounts.models import User
from coins.accounts.services.validation import normalise_email, validate_email
from coins.campaigns.access import CampaignAccess
from coins.campaigns.errors import CampaignNotActive, InvalidTransition, InvitationInvalid
from coins.campaigns.events import InvitationChanged, InvitationSent, ManagerAssigned, MembersInvited
from coins.campaigns.models import Campaign, CampaignMember, Invitation
from coins.campaigns.services.membership import Membership
from coins.campaigns.services.reading import CampaignReader
from coins.lib.db import commit, rollback
from coins.lib.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from coins.lib.events import EventBus
from coins.lib.links import Links
from coins.lib.pages import Page

INVITATION_LIFETIME = timedelta(days=7)
MAX_INVITES_AT_ONCE = 500


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class InviteOutcome:
    invited: list[str] = field(default_factory=list)
    resent: list[str] = field(default_factory=list)
    already_members: list[str] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)


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


class Invitations:
    def __init__(self, session: AsyncSession, events: EventBus, *, links: Links) -> None:
        self.db = session
        self.events = events
        self.links = links
        self.membership = Membership(session, events)

    # Managers by email --------------------------------------------------------------------------------

    async def assign_managers(self, access: CampaignAccess, emails: list[str]) -> InviteOutcome:
        access.require_admin()
        bad = [e for e in emails if validate_email(e)]
        if bad:
            raise InvalidInput("Some addresses are not valid.", fields={"emails": ", ".join(bad)})
        assert access.viewer is not None
        outcome = await self.assign_managers_now(access.viewer, access.campaign, emails)
        await commit(self.db)
        return outcome

    async def assign_managers_now(self, actor: CurrentUser, campaign: Campaign, emails: list[str]) -> InviteOutcome:
        """In the caller's transaction: existing accounts become managers, other addresses are invited."""
        made, invited = [], []
        for email in dict.fromkeys(normalise_email(e) for e in emails):
            user_id = await self.db.scalar(select(User.id).where(User.email == email))
            if user_id is not None:
                await self.membership.add(campaign, user_id, "manager", actor_id=actor.id)
                made.append(email)
                await self.events.publish(
                    self.db,
                    ManagerAssigned(campaign=campaign, actor_id=actor.id, user_id=user_id, actor_name=actor.full_name),
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
                await self._send(pending, campaign, access.viewer, self._refresh_token(pending))
                resent.append(email)
            else:
                await self._invite_one(access.viewer, campaign, email, role)
                invited.append(email)
        await self.events.publish(
            self.db,
            MembersInvited(campaign=campaign, actor_id=access.viewer.id, invited=invited, resent=resent, role=role),
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
        await self._send(invitation, campaign, actor, token)
        return invitation

    def _refresh_token(self, invitation: Invitation) -> str:
        """A resend issues a new link (the old one stops working) valid for another 7 days."""
        token = secrets.token_urlsafe(32)
        invitation.token_hash = _hash(token)
        invitation.sent_at = datetime.now(UTC)
        invitation.expires_at = invitation.sent_at + INVITATION_LIFETIME
        invitation.send_count += 1
        return token

    async def _send(self, invitation: Invitation, campaign: Campaign, actor: CurrentUser, token: str) -> None:
        await self.events.publish(
            self.db,
            InvitationSent(
                campaign=campaign,
                actor_id=actor.id,
                invitation=invitation,
                inviter_name=actor.full_name,
                accept_url=self.links.url("invitation", token=token),
                expires_at=invitation.expires_at,
            ),
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
        access = await CampaignReader(self.db).access(campaign.slug, viewer)
        access.require_manage()
        return invitation, campaign

    async def resend(self, invitation_id: UUID, viewer: CurrentUser) -> Invitation:
        invitation, campaign = await self._managed_invitation(invitation_id, viewer)
        if invitation.status not in {"pending", "expired"}:
            raise InvalidTransition(f"An {invitation.status} invitation cannot be sent again.")
        invitation.status = "pending"
        await self._send(invitation, campaign, viewer, self._refresh_token(invitation))
        await self.events.publish(
            self.db, InvitationChanged(invitation=invitation, actor_id=viewer.id, change="resent")
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
        await self.events.publish(
            self.db, InvitationChanged(invitation=invitation, actor_id=viewer.id, change="revoked")
        )
        await commit(self.db)
        return invitation

    async def for_token(self, token: str) -> tuple[Invitation, Campaign]:
        """The pending, unexpired invitation behind a link (read-only: for the landing page)."""
        invitation = await self.db.scalar(select(Invitation).where(Invitation.token_hash == _hash(token)))
        if invitation is None or invitation.status != "pending" or invitation.expires_at <= datetime.now(UTC):
            raise InvitationInvalid()
        return invitation, await self.db.get_one(Campaign, invitation.campaign_id)

    async def accept(self, token: str, viewer: CurrentUser) -> Campaign:
        """Use an invitation link: single use, unexpired, and only by the account of the invited address."""
        invitation, campaign = await self.for_token(token)
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
        await self.membership.add(locked, viewer.id, invitation.role, actor_id=viewer.id)
        await commit(self.db)
        return locked
