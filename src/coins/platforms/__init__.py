"""Platforms: other sites and tools that send people into campaigns and hear back (SPEC.md "Permalinks and
platforms").

- `identity`: API keys (`cfc_...`, stored as SHA-256) and the platform identity of a request;
- `services`: registration and keys (admins), permalinks (platforms and managers), contexts;
- `hooks`: idea events → the platform's ideas and queued webhook events (called by `coins.ideas.events`);
- `webhooks`: endpoints, signing, delivery with its log and the day-long failure rule; `netguard`: SSRF;
- `tasks`: the worker's delivery, sweeper and coin-threshold jobs; `api` and `views`: the two front doors.
"""
