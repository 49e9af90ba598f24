"""ideas, allocations, idempotency, coin functions

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 10:07:17.849067
"""

from __future__ import annotations

from collections.abc import Sequence

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# One member's coin operation (allocate, release, or both: a reallocation), applied in one statement so a
# request costs one round trip and holds its row locks only while the database works, never while Python
# does.  The rules (pricing, minimums, what a request means) are decided in Python (coins/ledger.py); this
# function applies the result with guards and refuses anything the current state does not allow.
#
# Locks (as this revision had them; 0007 moved the ideas last, see its docstring and the current definition in
# src/coins/coins/sql/coin_member_apply.sql): the campaign's advisory lock in shared mode (completing a campaign
# takes it exclusively, so nothing moves after completion), the ideas by ascending id, then the member's
# balance row.  Errors are raised as 'CODE: message' and roll back all.
MEMBER_APPLY_FUNCTION = """
CREATE FUNCTION coin_member_apply(
    p_campaign uuid, p_user uuid, p_actor uuid, p_key text, p_linear boolean, p_max integer,
    p_take_idea bigint, p_take_coins integer, p_take_expected integer, p_take_after integer, p_take_votes integer,
    p_put_idea bigint, p_put_coins integer, p_put_expected integer, p_put_after integer, p_put_votes integer
) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_status text;
    v_idea record;
    v_current integer;
    v_after integer;
    v_votes integer;
    v_net integer := coalesce(p_put_coins, 0) - coalesce(p_take_coins, 0);
    v_found integer := 0;
    v_balance record;
BEGIN
    SELECT status INTO v_status FROM campaigns WHERE id = p_campaign;
    IF v_status IS DISTINCT FROM 'active' THEN
        RAISE EXCEPTION 'CAMPAIGN_002: coins move only while the campaign is active (it is %)', coalesce(v_status, 'missing');
    END IF;
    PERFORM 1 FROM campaign_members WHERE campaign_id = p_campaign AND user_id = p_user AND left_at IS NULL;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'AUTH_002: only members of this campaign have coins in it';
    END IF;

    FOR v_idea IN
        SELECT id, campaign_id, status FROM ideas
        WHERE id IN (p_take_idea, p_put_idea) ORDER BY id FOR UPDATE
    LOOP
        v_found := v_found + 1;
        IF v_idea.campaign_id <> p_campaign THEN
            RAISE EXCEPTION 'IDEA_001: no idea % in this campaign', v_idea.id;
        END IF;
        IF v_idea.status IN ('accepted', 'in_progress', 'complete') THEN
            IF v_idea.id = p_take_idea THEN
                RAISE EXCEPTION 'COIN_002: the coins on idea % are already expended: it was accepted', v_idea.id;
            END IF;
            RAISE EXCEPTION 'IDEA_004: idea % is already accepted', v_idea.id;
        ELSIF v_idea.status <> 'competing' THEN
            RAISE EXCEPTION 'IDEA_003: idea % is not competing (it is %)', v_idea.id, v_idea.status;
        END IF;
    END LOOP;
    IF v_found < (p_take_idea IS NOT NULL)::integer + (p_put_idea IS NOT NULL)::integer THEN
        RAISE EXCEPTION 'IDEA_001: no such idea';
    END IF;

    IF p_take_idea IS NOT NULL THEN
        SELECT coins INTO v_current FROM coin_allocations
        WHERE idea_id = p_take_idea AND user_id = p_user FOR UPDATE;
        v_current := coalesce(v_current, 0);
        IF p_linear THEN
            IF v_current < p_take_coins THEN
                RAISE EXCEPTION 'COIN_001: you have only % coins on idea %', v_current, p_take_idea;
            END IF;
            v_after := v_current - p_take_coins;
            v_votes := v_after;
        ELSE
            IF v_current <> p_take_expected THEN
                RAISE EXCEPTION 'STALE: the allocation changed meanwhile';
            END IF;
            v_after := p_take_after;
            v_votes := p_take_votes;
        END IF;
        IF v_after = 0 THEN
            DELETE FROM coin_allocations WHERE idea_id = p_take_idea AND user_id = p_user;
            UPDATE ideas SET coins = coins - p_take_coins, supporters = supporters - 1 WHERE id = p_take_idea;
        ELSE
            UPDATE coin_allocations SET coins = v_after, votes = v_votes, updated_at = now()
            WHERE idea_id = p_take_idea AND user_id = p_user;
            UPDATE ideas SET coins = coins - p_take_coins WHERE id = p_take_idea;
        END IF;
    END IF;

    IF p_put_idea IS NOT NULL THEN
        SELECT coins INTO v_current FROM coin_allocations
        WHERE idea_id = p_put_idea AND user_id = p_user FOR UPDATE;
        IF p_linear THEN
            v_after := coalesce(v_current, 0) + p_put_coins;
            v_votes := v_after;
            IF p_max IS NOT NULL AND v_after > p_max THEN
                RAISE EXCEPTION 'COIN_004: at most % coins per idea: you would have % on it', p_max, v_after;
            END IF;
        ELSE
            IF coalesce(v_current, 0) <> p_put_expected THEN
                RAISE EXCEPTION 'STALE: the allocation changed meanwhile';
            END IF;
            v_after := p_put_after;
            v_votes := p_put_votes;
        END IF;
        IF v_current IS NULL THEN
            INSERT INTO coin_allocations (campaign_id, idea_id, user_id, coins, votes, updated_at)
            VALUES (p_campaign, p_put_idea, p_user, v_after, v_votes, now());
            UPDATE ideas SET coins = coins + p_put_coins, supporters = supporters + 1 WHERE id = p_put_idea;
        ELSE
            UPDATE coin_allocations SET coins = v_after, votes = v_votes, updated_at = now()
            WHERE idea_id = p_put_idea AND user_id = p_user;
            UPDATE ideas SET coins = coins + p_put_coins WHERE id = p_put_idea;
        END IF;
    END IF;

    UPDATE coin_balances
    SET available = available - v_net, allocated = allocated + v_net, updated_at = now()
    WHERE campaign_id = p_campaign AND user_id = p_user AND available >= v_net
    RETURNING granted, available, allocated, expended INTO v_balance;
    IF NOT FOUND THEN
        SELECT available INTO v_current FROM coin_balances WHERE campaign_id = p_campaign AND user_id = p_user;
        RAISE EXCEPTION 'COIN_001: not enough coins: this needs % and you have % available',
            v_net, coalesce(v_current, 0);
    END IF;

    IF p_take_idea IS NOT NULL AND p_put_idea IS NOT NULL AND p_take_coins = p_put_coins THEN
        INSERT INTO coin_ledger (campaign_id, user_id, actor_id, kind, amount, votes, idea_id, from_idea_id,
                                 idempotency_key, reason, created_at)
        VALUES (p_campaign, p_user, p_actor, 'move', p_put_coins, coalesce(p_put_votes, p_put_coins), p_put_idea,
                p_take_idea, p_key, 'reallocation', now());
    ELSE
        IF p_take_idea IS NOT NULL THEN
            INSERT INTO coin_ledger (campaign_id, user_id, actor_id, kind, amount, votes, idea_id, from_idea_id,
                                     idempotency_key, reason, created_at)
            VALUES (p_campaign, p_user, p_actor, 'release', p_take_coins, 0, p_take_idea, NULL, p_key,
                    CASE WHEN p_put_idea IS NULL THEN '' ELSE 'reallocation' END, now());
        END IF;
        IF p_put_idea IS NOT NULL THEN
            INSERT INTO coin_ledger (campaign_id, user_id, actor_id, kind, amount, votes, idea_id, from_idea_id,
                                     idempotency_key, reason, created_at)
            VALUES (p_campaign, p_user, p_actor, 'allocate', p_put_coins, coalesce(v_votes, 0), p_put_idea,
                    p_take_idea, p_key, CASE WHEN p_take_idea IS NULL THEN '' ELSE 'reallocation' END, now());
        END IF;
    END IF;

    RETURN jsonb_build_object(
        'granted', v_balance.granted, 'available', v_balance.available,
        'allocated', v_balance.allocated, 'expended', v_balance.expended
    );
END
$$;
"""


# The front door: the campaign's shared advisory lock, then the Idempotency-Key.  A repeat of a key (even
# one racing the original) waits on the key's row until the original commits, then answers with the stored
# result: the balance after a success, or the refusal ('CODE: message') if the original was refused, so a
# repeat never does something the original did not.  STALE (quadratic prices changed meanwhile) is not a
# result: it is re-raised, nothing is stored, and the service retries.
MEMBER_MOVE_FUNCTION = """
CREATE FUNCTION coin_member_move(
    p_campaign uuid, p_user uuid, p_actor uuid, p_key text, p_fingerprint text, p_linear boolean, p_max integer,
    p_take_idea bigint, p_take_coins integer, p_take_expected integer, p_take_after integer, p_take_votes integer,
    p_put_idea bigint, p_put_coins integer, p_put_expected integer, p_put_after integer, p_put_votes integer,
    p_stamp integer, p_policy_version timestamptz
) RETURNS TABLE (was_replayed boolean, result jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    v_response jsonb;
    v_stored record;
BEGIN
    PERFORM pg_advisory_xact_lock_shared(hashtextextended(p_campaign::text, 0));
    -- The web tier trusts the bearer token's signature for who is calling; whether that account is still
    -- active and the token still current (password not changed since) is checked here, in the same round trip.
    IF p_stamp IS NOT NULL THEN
        PERFORM 1 FROM users WHERE id = p_user AND is_active AND security_stamp = p_stamp;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'AUTH_001: the access token is no longer valid';
        END IF;
    END IF;
    -- The web tier caches campaign policies; a policy changed since it was read means "read it again".
    IF p_policy_version IS NOT NULL THEN
        PERFORM 1 FROM campaigns WHERE id = p_campaign AND updated_at = p_policy_version;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'STALE_POLICY: the campaign settings changed';
        END IF;
    END IF;
    IF p_key IS NULL THEN
        RETURN QUERY SELECT false, coin_member_apply(
            p_campaign, p_user, p_actor, p_key, p_linear, p_max,
            p_take_idea, p_take_coins, p_take_expected, p_take_after, p_take_votes,
            p_put_idea, p_put_coins, p_put_expected, p_put_after, p_put_votes);
        RETURN;
    END IF;

    INSERT INTO coin_requests (user_id, key, campaign_id, fingerprint, response, created_at)
    VALUES (p_user, p_key, p_campaign, p_fingerprint, '{}'::jsonb, now())
    ON CONFLICT (user_id, key) DO NOTHING;
    IF NOT FOUND THEN
        SELECT fingerprint, response INTO v_stored FROM coin_requests WHERE user_id = p_user AND key = p_key;
        IF v_stored.fingerprint <> p_fingerprint THEN
            RAISE EXCEPTION 'IDEMPOTENCY_001: this Idempotency-Key was already used for a different request';
        END IF;
        RETURN QUERY SELECT true, v_stored.response;
        RETURN;
    END IF;

    BEGIN
        v_response := coin_member_apply(
            p_campaign, p_user, p_actor, p_key, p_linear, p_max,
            p_take_idea, p_take_coins, p_take_expected, p_take_after, p_take_votes,
            p_put_idea, p_put_coins, p_put_expected, p_put_after, p_put_votes);
    EXCEPTION WHEN raise_exception THEN
        IF SQLERRM LIKE 'STALE%' THEN
            RAISE;
        END IF;
        -- The refusal is the result: everything the operation did is rolled back, the key row stays.
        v_response := jsonb_build_object('error', SQLERRM);
    END;
    UPDATE coin_requests SET response = v_response WHERE user_id = p_user AND key = p_key;
    RETURN QUERY SELECT false, v_response;
END
$$;
"""


def upgrade() -> None:
    # Trigram similarity for "similar ideas as you type".
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    # ### commands auto generated by Alembic - please adjust! ###
    op.create_table(
        "coin_requests",
        sa.Column("user_id", advanced_alchemy.types.GUID(length=16), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("campaign_id", advanced_alchemy.types.GUID(length=16), nullable=False),
        sa.Column("fingerprint", sa.String(length=300), nullable=False),
        sa.Column("response", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "created_at",
            advanced_alchemy.types.DateTimeUTC(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_coin_requests_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_coin_requests_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "key", name="pk_coin_requests"),
    )
    op.create_table(
        "ideas",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("campaign_id", advanced_alchemy.types.GUID(length=16), nullable=False),
        sa.Column("author_id", advanced_alchemy.types.GUID(length=16), nullable=True),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("description_html", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("rejection_reason", sa.String(length=1000), server_default=sa.text("''"), nullable=False),
        sa.Column("merged_into_id", sa.BigInteger(), nullable=True),
        sa.Column("context_id", sa.String(length=200), nullable=True),
        sa.Column("source", sa.String(length=16), server_default=sa.text("'web'"), nullable=False),
        sa.Column("coins", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("supporters", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "created_at",
            advanced_alchemy.types.DateTimeUTC(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            advanced_alchemy.types.DateTimeUTC(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "status_changed_at",
            advanced_alchemy.types.DateTimeUTC(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "search_vector",
            postgresql.TSVECTOR(),
            sa.Computed(
                "setweight(to_tsvector('english', coalesce(title, '')), 'A') || setweight(to_tsvector('english', coalesce(description, '')), 'B')",
                persisted=True,
            ),
            nullable=False,
        ),
        sa.CheckConstraint(
            "(status = 'merged') = (merged_into_id IS NOT NULL)", name=op.f("ck_ideas_merged_has_target")
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'competing', 'rejected', 'accepted', 'in_progress', 'complete', 'withdrawn', 'merged')",
            name=op.f("ck_ideas_status_known"),
        ),
        sa.CheckConstraint("char_length(description) BETWEEN 1 AND 5000", name=op.f("ck_ideas_description_length")),
        sa.CheckConstraint("char_length(title) BETWEEN 1 AND 255", name=op.f("ck_ideas_title_length")),
        sa.CheckConstraint("coins >= 0", name=op.f("ck_ideas_coins_non_negative")),
        sa.CheckConstraint(
            "merged_into_id IS NULL OR merged_into_id <> id", name=op.f("ck_ideas_not_merged_into_itself")
        ),
        sa.CheckConstraint("supporters >= 0", name=op.f("ck_ideas_supporters_non_negative")),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_ideas_author_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_ideas_campaign_id_campaigns"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["merged_into_id"], ["ideas.id"], name=op.f("fk_ideas_merged_into_id_ideas"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ideas")),
    )
    op.create_index(op.f("ix_ideas_author_id"), "ideas", ["author_id"], unique=False)
    op.create_index(
        "ix_ideas_campaign_coins",
        "ideas",
        ["campaign_id", sa.literal_column("coins DESC"), "id"],
        unique=False,
    )
    op.create_index("ix_ideas_campaign_context", "ideas", ["campaign_id", "context_id"], unique=False)
    op.create_index("ix_ideas_campaign_status", "ideas", ["campaign_id", "status"], unique=False)
    op.create_index("ix_ideas_search", "ideas", ["search_vector"], unique=False, postgresql_using="gin")
    op.create_index(
        "ix_ideas_title_trgm",
        "ideas",
        ["title"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"title": "gin_trgm_ops"},
    )
    op.create_table(
        "coin_allocations",
        sa.Column("campaign_id", advanced_alchemy.types.GUID(length=16), nullable=False),
        sa.Column("idea_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", advanced_alchemy.types.GUID(length=16), nullable=False),
        sa.Column("coins", sa.Integer(), nullable=False),
        sa.Column("votes", sa.Integer(), nullable=False),
        sa.Column(
            "updated_at",
            advanced_alchemy.types.DateTimeUTC(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("coins >= 0", name=op.f("ck_coin_allocations_coins_non_negative")),
        sa.CheckConstraint("votes >= 0", name=op.f("ck_coin_allocations_votes_non_negative")),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_coin_allocations_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["idea_id"], ["ideas.id"], name=op.f("fk_coin_allocations_idea_id_ideas"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_coin_allocations_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("idea_id", "user_id", name="pk_coin_allocations"),
    )
    op.create_index("ix_coin_allocations_member", "coin_allocations", ["campaign_id", "user_id"], unique=False)
    op.create_table(
        "idea_status_changes",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("idea_id", sa.BigInteger(), nullable=False),
        sa.Column("actor_id", advanced_alchemy.types.GUID(length=16), nullable=True),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=1000), nullable=False),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "created_at",
            advanced_alchemy.types.DateTimeUTC(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["users.id"],
            name=op.f("fk_idea_status_changes_actor_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["idea_id"], ["ideas.id"], name=op.f("fk_idea_status_changes_idea_id_ideas"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idea_status_changes")),
    )
    op.create_index("ix_idea_status_changes_idea", "idea_status_changes", ["idea_id", "id"], unique=False)
    op.create_table(
        "idea_tags",
        sa.Column("idea_id", sa.BigInteger(), nullable=False),
        sa.Column("tag_id", advanced_alchemy.types.GUID(length=16), nullable=False),
        sa.ForeignKeyConstraint(["idea_id"], ["ideas.id"], name=op.f("fk_idea_tags_idea_id_ideas"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["tag_id"], ["tags.id"], name=op.f("fk_idea_tags_tag_id_tags"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("idea_id", "tag_id", name="pk_idea_tags"),
    )
    op.create_index("ix_idea_tags_tag", "idea_tags", ["tag_id", "idea_id"], unique=False)
    op.create_table(
        "idea_versions",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("idea_id", sa.BigInteger(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("editor_id", advanced_alchemy.types.GUID(length=16), nullable=True),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("tag_names", postgresql.ARRAY(sa.String(length=50)), nullable=False),
        sa.Column("changed", postgresql.ARRAY(sa.String(length=32)), nullable=False),
        sa.Column(
            "created_at",
            advanced_alchemy.types.DateTimeUTC(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["editor_id"], ["users.id"], name=op.f("fk_idea_versions_editor_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["idea_id"], ["ideas.id"], name=op.f("fk_idea_versions_idea_id_ideas"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idea_versions")),
    )
    op.create_index("ix_idea_versions_idea", "idea_versions", ["idea_id", "number"], unique=False)
    op.create_foreign_key(op.f("fk_coin_ledger_from_idea_id_ideas"), "coin_ledger", "ideas", ["from_idea_id"], ["id"])
    op.create_foreign_key(op.f("fk_coin_ledger_idea_id_ideas"), "coin_ledger", "ideas", ["idea_id"], ["id"])
    # ### end Alembic commands ###
    op.execute(MEMBER_APPLY_FUNCTION)
    op.execute(MEMBER_MOVE_FUNCTION)


def downgrade() -> None:
    op.execute(
        "DROP FUNCTION coin_member_move(uuid, uuid, uuid, text, text, boolean, integer, bigint, integer, integer, "
        "integer, integer, bigint, integer, integer, integer, integer, integer, timestamptz)"
    )
    op.execute(
        "DROP FUNCTION coin_member_apply(uuid, uuid, uuid, text, boolean, integer, bigint, integer, integer, "
        "integer, integer, bigint, integer, integer, integer, integer)"
    )
    # ### commands auto generated by Alembic - please adjust! ###
    op.drop_constraint(op.f("fk_coin_ledger_idea_id_ideas"), "coin_ledger", type_="foreignkey")
    op.drop_constraint(op.f("fk_coin_ledger_from_idea_id_ideas"), "coin_ledger", type_="foreignkey")
    op.drop_index("ix_idea_versions_idea", table_name="idea_versions")
    op.drop_table("idea_versions")
    op.drop_index("ix_idea_tags_tag", table_name="idea_tags")
    op.drop_table("idea_tags")
    op.drop_index("ix_idea_status_changes_idea", table_name="idea_status_changes")
    op.drop_table("idea_status_changes")
    op.drop_index("ix_coin_allocations_member", table_name="coin_allocations")
    op.drop_table("coin_allocations")
    op.drop_index(
        "ix_ideas_title_trgm",
        table_name="ideas",
        postgresql_using="gin",
        postgresql_ops={"title": "gin_trgm_ops"},
    )
    op.drop_index("ix_ideas_search", table_name="ideas", postgresql_using="gin")
    op.drop_index("ix_ideas_campaign_status", table_name="ideas")
    op.drop_index("ix_ideas_campaign_context", table_name="ideas")
    op.drop_index("ix_ideas_campaign_coins", table_name="ideas")
    op.drop_index(op.f("ix_ideas_author_id"), table_name="ideas")
    op.drop_table("ideas")
    op.drop_table("coin_requests")
    # ### end Alembic commands ###
