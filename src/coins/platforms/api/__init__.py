"""The platforms part of the JSON API.

- `/api/platforms`: administrators register platforms, rotate and revoke their keys (bearer token).
- `/api/permalinks`, `/api/contexts`, `/api/webhooks`: a platform with its own key
  (`Authorization: Bearer cfc_...` or `X-API-Key: cfc_...`); administrators may also read an endpoint's
  delivery log and send it a test event.
"""
