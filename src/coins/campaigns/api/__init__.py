"""The campaigns part of the JSON API, by sub-domain: campaigns and their lifecycle, members, tags, invitations."""
