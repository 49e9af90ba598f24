-- The current definition of coin_ledger_append_only (applied by migration 0002; migrations keep frozen copies of the
-- versions they created).  tests/integration/test_database_functions.py checks that the database after
-- `upgrade head` has exactly the functions of this folder.  A change here goes into a new migration too.
-- The ledger is append-only: corrections are new entries, history is never rewritten.
CREATE OR REPLACE FUNCTION coin_ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'coin_ledger is append-only: % is not allowed', TG_OP;
END $$
