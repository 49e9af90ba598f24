"""Coin services, one per sub-domain: a member's own operations, grants, settlement, reading."""
