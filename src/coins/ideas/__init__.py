"""Ideas: submission and editing with versions, the moderation workflow, similar ideas, the board."""
