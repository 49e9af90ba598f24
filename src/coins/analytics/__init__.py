"""Analytics and reports: campaign, system and executive dashboards, outcomes, exports, the audit trail."""
