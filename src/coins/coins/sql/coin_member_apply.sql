-- The current definition of coin_member_apply (applied by migration 0007; migrations keep frozen copies of the
-- versions they created).  tests/integration/test_database_functions.py checks that the database after
-- `upgrade head` has exactly the functions of this folder.  A change here goes into a new migration too.
--
-- One member's coin operation (allocate, release, or both: a reallocation), applied with guards: the rules
-- (pricing, minimums, what a request means) are decided in Python (coins/ledger.py); this applies the result
-- and refuses anything the current state does not allow.  Locks, in this order so concurrent operations cannot
-- deadlock: the member's balance row, their allocation rows, then the ideas by ascending id, last (the caller,
-- coin_member_move, holds the campaign's advisory lock shared).  Errors are raised as 'CODE: message'.
CREATE OR REPLACE FUNCTION coin_member_apply(
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
    v_take_supporters integer := 0;
    v_put_supporters integer := 0;
    v_idea_id bigint;
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
        SELECT id, campaign_id, status FROM ideas WHERE id IN (p_take_idea, p_put_idea) ORDER BY id
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

    -- The member's own rows: their operations take turns here, other members' run alongside.
    PERFORM 1 FROM coin_balances WHERE campaign_id = p_campaign AND user_id = p_user FOR NO KEY UPDATE;

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
            v_take_supporters := 1;
        ELSE
            UPDATE coin_allocations SET coins = v_after, votes = v_votes, updated_at = now()
            WHERE idea_id = p_take_idea AND user_id = p_user;
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
            v_put_supporters := 1;
        ELSE
            UPDATE coin_allocations SET coins = v_after, votes = v_votes, updated_at = now()
            WHERE idea_id = p_put_idea AND user_id = p_user;
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

    -- Last, the ideas' counters (ascending id): the rows everyone contends for are held only from here to
    -- the commit.  The status is checked again under the lock.
    FOR v_idea_id IN
        SELECT unnest(ARRAY[p_take_idea, p_put_idea]) AS id ORDER BY 1
    LOOP
        CONTINUE WHEN v_idea_id IS NULL;
        IF v_idea_id = p_take_idea THEN
            UPDATE ideas SET coins = coins - p_take_coins, supporters = supporters - v_take_supporters
            WHERE id = v_idea_id AND status = 'competing';
        ELSE
            UPDATE ideas SET coins = coins + p_put_coins, supporters = supporters + v_put_supporters
            WHERE id = v_idea_id AND status = 'competing';
        END IF;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'IDEA_003: idea % stopped competing meanwhile', v_idea_id;
        END IF;
    END LOOP;

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
