"""Campaign services, one per sub-domain: reading, configuration, lifecycle, membership, invitations, tags."""
