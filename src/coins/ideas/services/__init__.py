"""Idea services, one per sub-domain: reading, submission, editing, the workflow, the board."""
