-- The current definition of coin_member_move (applied by migration 0003; migrations keep frozen copies of the
-- versions they created).  tests/integration/test_database_functions.py checks that the database after
-- `upgrade head` has exactly the functions of this folder.  A change here goes into a new migration too.
--
-- The front door: the campaign's shared advisory lock, then the Idempotency-Key.  A repeat of a key (even one
-- racing the original) waits on the key's row until the original commits, then answers with the stored result.
CREATE OR REPLACE FUNCTION coin_member_move(
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
