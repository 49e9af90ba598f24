"""The coin economy: balances, the append-only ledger, and the rules that move coins."""
