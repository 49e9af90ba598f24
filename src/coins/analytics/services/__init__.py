"""Analytics services, one per sub-domain: campaign dashboards, the executive dashboard, ideas' outcomes.

Every figure is computed by PostgreSQL (aggregates and window functions), never by loading rows into Python:
a campaign with a million ledger entries costs the same few round trips as a small one.  Each module states
the definitions of its figures (the tests check them against hand-computed fixtures).
"""
