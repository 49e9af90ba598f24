"""Coins for Change: ideas prioritised democratically with a budget of virtual coins."""

__version__ = "0.1.0"
