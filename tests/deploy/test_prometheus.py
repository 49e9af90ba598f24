"""deploy/prometheus and deploy/grafana: promtool accepts the scrape config and the alert rules, the
rules' unit tests pass (each alert fires on its data, after its `for`, and stays quiet otherwise), and
every metric an alert or a dashboard panel reads is one the app, the worker or a named exporter really
exports (a typo in a metric name makes an alert that never fires, silently)."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from litestar import Litestar
from litestar.testing import AsyncTestClient
from prometheus_client import CollectorRegistry, generate_latest

from coins.ops.worker_metrics import QueueCollector
from coins.settings import Settings
from coins.wiring import job_queue
from tests.deploy.promtool import find_promtool
from tests.deploy.support import DEPLOY

PROMETHEUS = DEPLOY / "prometheus"
DASHBOARD = DEPLOY / "grafana" / "coins-dashboard.json"
REQUIRED_ALERTS = {
    "HighErrorRate",
    "DatabaseConnectionsHigh",
    "CoinAllocationFailures",
    "QueueBacklog",
    "ReplicaNotReady",
}
# Metrics from outside the app, and who exports them.
EXTERNAL = {
    "pg_stat_database_numbackends": "postgres_exporter",
    "pg_settings_max_connections": "postgres_exporter",
    "up": "Prometheus itself",
}
PROMQL_WORDS = {
    "sum", "min", "max", "avg", "count", "by", "without", "on", "ignoring", "group_left", "group_right", "and",
    "or", "unless", "rate", "irate", "increase", "histogram_quantile", "absent", "le", "bool", "offset",
}  # fmt: skip


@pytest.fixture(scope="module")
def promtool() -> str:
    return find_promtool()


def run(promtool: str, *args: str, cwd: Path = PROMETHEUS) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def test_scrape_config_is_valid(promtool: str) -> None:
    result = run(promtool, "check", "config", "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert {"coins-web", "coins-worker", "postgres"} <= set(jobs)
    # The targets are the headless Services of deploy/kubernetes, on the ports the pods expose.
    web = jobs["coins-web"]["dns_sd_configs"][0]
    worker = jobs["coins-worker"]["dns_sd_configs"][0]
    assert web["names"] == ["coins-web-metrics.coins-for-change.svc.cluster.local"] and web["port"] == 8000
    assert worker["names"] == ["coins-worker-metrics.coins-for-change.svc.cluster.local"] and worker["port"] == 9091
    assert config["rule_files"] == ["alerts.yml"]


def test_alert_rules_are_valid(promtool: str) -> None:
    result = run(promtool, "check", "rules", "alerts.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_unit_tests_pass(promtool: str) -> None:
    result = run(promtool, "test", "rules", "alerts_test.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_catches_mistakes(promtool: str, tmp_path: Path) -> None:
    broken = (
        (PROMETHEUS / "alerts.yml")
        .read_text()
        .replace("sum(rate(http_requests_total[5m]))", "sum(rate(http_requests_total[5m])", 1)
    )
    (tmp_path / "alerts.yml").write_text(broken)
    assert run(promtool, "check", "rules", "alerts.yml", cwd=tmp_path).returncode != 0


def alerts() -> dict[str, dict[str, Any]]:
    groups = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())["groups"]
    return {rule["alert"]: rule for group in groups for rule in group["rules"]}


def test_every_alert_is_unit_tested_both_ways() -> None:
    tests = yaml.safe_load((PROMETHEUS / "alerts_test.yml").read_text())["tests"]
    cases = [case for test in tests for case in test["alert_rule_test"]]
    defined = set(alerts())
    assert defined >= REQUIRED_ALERTS
    for name in defined:
        outcomes = [bool(case["exp_alerts"]) for case in cases if case["alertname"] == name]
        assert True in outcomes, f"{name}: no test where it fires"
        assert False in outcomes, f"{name}: no test where it stays quiet"
    for rule in alerts().values():
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert rule["annotations"]["summary"]


def metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression: identifiers not inside {...} or quotes, minus PromQL's words."""
    without_strings = re.sub(r'"[^"]*"', '""', expr)
    without_matchers = re.sub(r"\{[^}]*\}", "", without_strings)
    without_ranges = re.sub(r"\[[^\]]*\]", "", without_matchers)
    without_grouping = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", without_ranges)
    names = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", without_grouping))
    return {n for n in names if n not in PROMQL_WORDS and not re.fullmatch(r"\d+[smhd]?", n)}


def exported_names(text: str) -> set[str]:
    names = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            names.add(name)
            if kind == "histogram":
                names |= {f"{name}_bucket", f"{name}_count", f"{name}_sum"}
            if kind == "counter" and not name.endswith("_total"):
                names.add(f"{name}_total")
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


@pytest.fixture
async def exported(client: AsyncTestClient[Litestar], settings: Settings) -> set[str]:
    """What the app's /metrics and the worker's /metrics (its queue collector) really export."""
    await client.get("/ready")  # sets coins_ready_check
    app_metrics = await client.get("/metrics")
    assert app_metrics.status_code == 200
    queue = job_queue(settings)
    await queue.connect()
    try:
        registry = CollectorRegistry()
        registry.register(QueueCollector(queue, asyncio.get_running_loop()))
        worker_metrics = (await asyncio.to_thread(generate_latest, registry)).decode()
    finally:
        await queue.disconnect()
    assert 'coins_queue_jobs{state="queued"}' in worker_metrics
    return exported_names(app_metrics.text) | exported_names(worker_metrics)


def test_metric_name_parsing() -> None:
    expr = (
        'histogram_quantile(0.95, sum by (le, route) (rate(http_request_duration_seconds_bucket{route!~"/x"}[5m]))) > 1'
    )
    assert metric_names(expr) == {"http_request_duration_seconds_bucket"}
    assert metric_names('absent(up{job="coins-worker"} == 1)') == {"up"}


async def test_alerts_and_dashboard_read_metrics_that_exist(exported: set[str]) -> None:
    known = exported | set(EXTERNAL)
    for name, rule in alerts().items():
        used = metric_names(rule["expr"])
        assert used, name
        assert used <= known, f"alert {name} reads {used - known}, which nothing exports"
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    for expr in exprs:
        used = metric_names(expr)
        assert used and used <= known, f"dashboard query {expr!r} reads {used - known}, which nothing exports"
    # The alerts' own metrics, as the brief names them.
    rules = alerts()
    assert 'http_requests_total{status=~"5.."}' in rules["HighErrorRate"]["expr"]
    assert "pg_stat_database_numbackends" in rules["DatabaseConnectionsHigh"]["expr"]
    assert "coin_allocation_failures_total" in rules["CoinAllocationFailures"]["expr"]
    assert "coins_queue_jobs" in rules["QueueBacklog"]["expr"]
    assert "coins_ready_check" in rules["ReplicaNotReady"]["expr"]


def test_dashboard_has_the_panels_operators_need() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] and dashboard["title"] and dashboard["schemaVersion"] >= 30
    panels = {panel["title"]: panel for panel in dashboard["panels"]}
    assert len({panel["id"] for panel in dashboard["panels"]}) == len(dashboard["panels"])
    exprs = {title: " ".join(t["expr"] for t in panel["targets"]) for title, panel in panels.items()}

    def find(*words: str) -> str:
        matches = [expr for title, expr in exprs.items() if all(w in title.lower() for w in words)]
        assert len(matches) == 1, (words, list(exprs))
        return matches[0]

    assert "rate(http_requests_total" in find("requests per second")
    p95 = find("p95")
    assert "histogram_quantile(0.95" in p95 and "http_request_duration_seconds_bucket" in p95 and "route" in p95
    assert "increase(coin_allocations_total[1h])" in find("coin operations per hour")
    assert "by (reason)" in find("refusals") and "coin_allocation_failures_total" in find("refusals")
    assert "coins_queue_jobs" in find("queue")
    assert "pg_stat_database_numbackends" in find("database connections")
    for panel in dashboard["panels"]:
        assert panel["datasource"]["type"] == "prometheus"
        for target in panel["targets"]:
            assert target["refId"] and target["expr"]
