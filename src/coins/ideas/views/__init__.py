"""Idea pages by sub-domain: the board, its live stream, submitting, the approval queue, one idea, editing."""
