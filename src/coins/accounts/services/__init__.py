"""Account services, one per sub-domain: registration, log-in, passwords, profile, administration."""
