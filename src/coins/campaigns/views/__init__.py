"""Campaign pages by sub-domain: the list, a campaign's home, settings, members, tags, invitation links."""
