"""Webhooks: endpoints a platform registers, the events they receive, signed delivery and its log.

Events (`type` in the body): `idea.submitted` and `idea.status_changed` for ideas that came in through the
platform's permalinks, `idea.coins_threshold` when such an idea first reaches an endpoint's threshold, and
`webhook.test` on request.  Each event for each endpoint is a `webhook_deliveries` row, written in the
transaction of the change and sent by the worker (`deliver_webhook`) once it has committed; the row is the
delivery log (status, attempts, response code, last error, timestamps).

Signature: header `Coins-Signature: t=<unix seconds>,v1=<hex>` where the hex is
HMAC-SHA256(key=the endpoint's secret, message=f"{t}.".encode() + raw body), computed afresh at every
attempt; the body (and its `id`, the same on every attempt) never changes.  Receivers compare in constant
time and refuse timestamps older than a few minutes.

Secrets: an endpoint's secret is HMAC-SHA256(SECRET_KEY, "coins-webhook-secret:" + salt), the salt being
random and stored with the endpoint.  The secret itself is shown once and stored nowhere, so a copy of the
database alone cannot forge deliveries.  Changing SECRET_KEY changes every secret: roll them afterwards
(`POST /api/webhooks/{id}/secret`) and hand the new ones to the platforms.

Retries: SAQ retries a failed attempt with exponential backoff and full jitter (TASK_OPTIONS
"deliver_webhook": 2 s doubling up to an hour, 60 attempts, about a day).  An endpoint whose attempts have
all failed for 24 hours (no success since its first failure) is disabled at its next failed attempt, its
waiting deliveries are marked failed, and the platform's owner gets an email.
"""
