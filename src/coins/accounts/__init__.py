"""Accounts: sign-up, log-in, sessions and tokens, passwords, system roles."""
