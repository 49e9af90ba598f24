"""Campaigns: lifecycle, membership and invitations, tags, coin policy."""
