"""The admin section: users and roles, the outbox, maintenance mode."""
