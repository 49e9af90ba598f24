"""deploy/kubernetes: every manifest is valid for Kubernetes, the overlays render, and the manifests say
what the operations guide asks (probes, resources, security, scaling, network policy, routing).

Rendering uses kustomize-lite (tests/deploy/kustomize.py, checked by hand against `kubectl kustomize`);
validation uses kubernetes-validate's bundled OpenAPI schemas in strict mode (unknown fields refused).
Gateway and HTTPRoute are CRDs of the Gateway API, which kubernetes-validate has no schema for and whose
published CRD schema we may not vendor: their structure is checked field by field below instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from coins.settings import ENV_VARS
from tests.deploy.kustomize import Doc, identity, load_yaml_documents, patch_targets, render
from tests.deploy.support import (
    APP_PORT,
    BASE,
    MIGRATE_COMMAND,
    OVERLAYS,
    REQUIRED_ENV,
    SECRET_ENV,
    WEB_COMMAND,
    WORKER_COMMAND,
    assert_cli_accepts,
)

K8S_VERSION = "1.32.0"
GATEWAY_API = "gateway.networking.k8s.io/v1"
CRD_KINDS = {"Gateway", "HTTPRoute"}
EXPECTED = {
    ("Namespace", "coins-for-change"),
    ("ConfigMap", "coins-config"),
    ("Deployment", "coins-web"),
    ("Deployment", "coins-worker"),
    ("Service", "coins-web"),
    ("Service", "coins-web-metrics"),
    ("Service", "coins-worker-metrics"),
    ("HorizontalPodAutoscaler", "coins-web"),
    ("PodDisruptionBudget", "coins-web"),
    ("NetworkPolicy", "coins-default-deny"),
    ("NetworkPolicy", "coins-web-ingress"),
    ("NetworkPolicy", "coins-worker-metrics"),
    ("NetworkPolicy", "coins-egress"),
    ("Gateway", "coins"),
    ("HTTPRoute", "coins"),
    ("Job", "coins-migrate"),
    ("CronJob", "coins-backup"),
    ("PersistentVolumeClaim", "coins-backups"),
    ("PersistentVolumeClaim", "coins-media"),
}
RENDERINGS = {"base": BASE, **OVERLAYS}


@pytest.fixture(scope="module", params=sorted(RENDERINGS))
def rendered(request: pytest.FixtureRequest) -> tuple[str, list[Doc]]:
    return request.param, render(RENDERINGS[request.param])


def by_identity(docs: list[Doc]) -> dict[tuple[str, str], Doc]:
    found: dict[tuple[str, str], Doc] = {}
    for doc in docs:
        key = identity(doc)
        assert key not in found, f"{key} twice"
        found[key] = doc
    return found


def pod_spec(doc: Doc) -> dict[str, Any]:
    spec = doc["spec"]["jobTemplate"]["spec"] if doc["kind"] == "CronJob" else doc["spec"]
    pod: dict[str, Any] = spec["template"]["spec"]
    return pod


def container(doc: Doc) -> dict[str, Any]:
    [only] = pod_spec(doc)["containers"]
    result: dict[str, Any] = only
    return result


def workloads(docs: list[Doc]) -> list[Doc]:
    return [doc for doc in docs if doc["kind"] in {"Deployment", "Job", "CronJob"}]


# Validity ------------------------------------------------------------------------------------------------


def test_every_rendered_manifest_is_valid_kubernetes(rendered: tuple[str, list[Doc]]) -> None:
    name, docs = rendered
    kinds = {(kind, "coins-for-change" if kind == "Namespace" else n) for kind, n in by_identity(docs)}
    assert kinds == EXPECTED, name
    for doc in docs:
        if doc["kind"] in CRD_KINDS:
            with pytest.raises(kubernetes_validate.SchemaNotFoundError):
                kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
            continue
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_every_file_parses_and_base_files_are_all_listed() -> None:
    listed = set(yaml.safe_load((BASE / "kustomization.yaml").read_text())["resources"])
    on_disk = {p.name for p in BASE.glob("*.yaml")} - {"kustomization.yaml"}
    # The one file deliberately left out: secrets are never applied from the repository.
    assert on_disk - listed == {"secret.template.yaml"}
    assert listed <= on_disk
    for path in BASE.parent.rglob("*.yaml"):
        assert load_yaml_documents(path), path


def test_the_validator_refuses_mistakes() -> None:
    """The check above would be worthless if strict validation accepted anything."""
    web = by_identity(render(BASE))["Deployment", "coins-web"]
    broken = yaml.safe_load(yaml.safe_dump(web))
    broken["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGett"] = {"path": "/health"}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)
    broken = yaml.safe_load(yaml.safe_dump(web))
    broken["spec"]["replicas"] = "three"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def test_gateway_and_route_structure(rendered: tuple[str, list[Doc]]) -> None:
    """Gateway API resources (no bundled schema): checked explicitly."""
    _, docs = rendered
    found = by_identity(docs)
    gateway, route = found["Gateway", "coins"], found["HTTPRoute", "coins"]
    for doc in (gateway, route):
        assert doc["apiVersion"] == GATEWAY_API
        assert set(doc) == {"apiVersion", "kind", "metadata", "spec"}
    assert set(gateway["spec"]) == {"gatewayClassName", "listeners"}
    assert gateway["spec"]["gatewayClassName"] == "eg"
    listeners = {listener["name"]: listener for listener in gateway["spec"]["listeners"]}
    assert (listeners["https"]["protocol"], listeners["https"]["port"]) == ("HTTPS", 443)
    assert listeners["https"]["tls"]["mode"] == "Terminate"
    assert listeners["https"]["tls"]["certificateRefs"] == [{"kind": "Secret", "name": "coins-tls"}]
    assert (listeners["http"]["protocol"], listeners["http"]["port"]) == ("HTTP", 80)
    for listener in listeners.values():
        assert set(listener) <= {"name", "protocol", "port", "tls", "allowedRoutes", "hostname"}

    spec = route["spec"]
    assert set(spec) == {"parentRefs", "hostnames", "rules"}
    assert {(ref["name"], ref["sectionName"]) for ref in spec["parentRefs"]} == {
        ("coins", "https"),
        ("coins", "http"),
    }
    assert spec["hostnames"] and all(isinstance(h, str) and "." in h for h in spec["hostnames"])
    service = found["Service", "coins-web"]
    service_port = service["spec"]["ports"][0]["port"]
    events, everything = spec["rules"]
    for rule in spec["rules"]:
        assert set(rule) <= {"matches", "backendRefs", "timeouts", "filters"}
        # Everything goes to the web Service, on the port it exposes.
        assert rule["backendRefs"] == [{"name": "coins-web", "port": service_port}]
        for match in rule["matches"]:
            assert match["path"]["type"] in {"PathPrefix", "Exact"}
            assert match["path"]["value"].startswith("/")
    # SSE first: by path and by Accept header, with a long timeout; then everything else at 60 s.
    assert {"type": "PathPrefix", "value": "/events"} in [m["path"] for m in events["matches"]]
    accept = [h for m in events["matches"] for h in m.get("headers", [])]
    assert accept == [{"type": "RegularExpression", "name": "accept", "value": ".*text/event-stream.*"}]
    assert _seconds(events["timeouts"]["request"]) >= 3600
    assert everything["matches"] == [{"path": {"type": "PathPrefix", "value": "/"}}]
    assert _seconds(everything["timeouts"]["request"]) == 60


def _seconds(duration: str) -> int:
    assert duration.endswith("s") and duration[:-1].isdigit(), duration
    return int(duration[:-1])


# What runs -----------------------------------------------------------------------------------------------


def test_commands_are_the_ones_the_cli_and_dockerfile_know() -> None:
    found = by_identity(render(BASE))
    web, worker = found["Deployment", "coins-web"], found["Deployment", "coins-worker"]
    assert container(web)["command"] == WEB_COMMAND
    assert container(worker)["command"] == WORKER_COMMAND
    assert container(found["Job", "coins-migrate"])["command"] == MIGRATE_COMMAND
    backup = container(found["CronJob", "coins-backup"])["command"]
    assert backup == ["coins", "backup", "--dir", "/backups", "--keep", "14"]
    for doc in workloads(list(found.values())):
        assert_cli_accepts(container(doc)["command"])
        assert container(doc)["image"] == "coins-for-change:latest"


def test_overlays_set_the_image_and_environment() -> None:
    for name, directory in OVERLAYS.items():
        found = by_identity(render(directory))
        images = {container(doc)["image"] for doc in workloads(list(found.values()))}
        assert len(images) == 1, images
        [image] = images
        assert image.startswith("registry.example.com/coins-for-change:"), image
        config = found["ConfigMap", "coins-config"]["data"]
        assert config["ENVIRONMENT"] == name
        namespace = found["Namespace", "coins-for-change"]["metadata"]["name"] if name == "production" else None
        namespaces = {doc["metadata"].get("namespace") for doc in found.values() if doc["kind"] != "Namespace"}
        assert len(namespaces) == 1, namespaces
        if namespace:
            assert namespaces == {namespace}
        route_hosts = found["HTTPRoute", "coins"]["spec"]["hostnames"]
        assert config["BASE_URL"] == f"https://{route_hosts[0]}"
        assert config["CORS_ORIGINS"] == f"https://{route_hosts[0]}"
    staging = by_identity(render(OVERLAYS["staging"]))
    assert all(
        doc["metadata"].get("namespace", doc["metadata"]["name"]) == "coins-for-change-staging"
        for doc in staging.values()
    )


def test_web_deployment_follows_the_guide() -> None:
    web = by_identity(render(BASE))["Deployment", "coins-web"]
    spec, pod, main = web["spec"], pod_spec(web), container(web)
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert main["ports"] == [{"name": "http", "containerPort": APP_PORT, "protocol": "TCP"}]
    # The guide's probes and resources.
    live, ready = main["livenessProbe"], main["readinessProbe"]
    assert live["httpGet"] == {"path": "/health", "port": "http"}
    assert (live["initialDelaySeconds"], live["periodSeconds"]) == (30, 10)
    assert ready["httpGet"] == {"path": "/ready", "port": "http"}
    assert (ready["initialDelaySeconds"], ready["periodSeconds"]) == (5, 5)
    assert main["resources"] == {
        "requests": {"memory": "256Mi", "cpu": "250m"},
        "limits": {"memory": "512Mi", "cpu": "500m"},
    }
    # Envoy and kube-proxy stop routing (preStop sleep) before SIGTERM starts granian's drain, and the
    # grace period covers both.
    sleep = main["lifecycle"]["preStop"]["exec"]["command"]
    assert sleep[0] == "sleep"
    assert pod["terminationGracePeriodSeconds"] >= int(sleep[1]) + 30
    # Multiprocess metrics in an emptyDir; scraped through the pod annotations.
    env = {e["name"]: e.get("value") for e in main["env"]}
    mounts = {m["mountPath"]: m["name"] for m in main["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts[env["PROMETHEUS_MULTIPROC_DIR"]]]
    assert "emptyDir" in volumes[mounts["/tmp"]]
    assert env["DATA_DIR"].startswith("/tmp/")
    assert "persistentVolumeClaim" in volumes[mounts[env["MEDIA_DIR"]]]
    annotations = spec["template"]["metadata"]["annotations"]
    assert annotations == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(APP_PORT),
        "prometheus.io/path": "/metrics",
    }


def test_every_pod_is_locked_down() -> None:
    for doc in workloads(render(BASE)):
        pod, main = pod_spec(doc), container(doc)
        assert pod["securityContext"]["runAsNonRoot"] is True, doc["metadata"]["name"]
        assert pod["securityContext"]["runAsUser"] == 1000
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["automountServiceAccountToken"] is False
        security = main["securityContext"]
        assert security["allowPrivilegeEscalation"] is False
        assert security["readOnlyRootFilesystem"] is True
        assert security["runAsNonRoot"] is True
        assert security["runAsUser"] == 1000
        assert security["capabilities"] == {"drop": ["ALL"]}
        # With a read-only root, /tmp (DATA_DIR) must be a writable volume.
        tmp = next(m for m in main["volumeMounts"] if m["mountPath"] == "/tmp")
        assert "emptyDir" in next(v for v in pod["volumes"] if v["name"] == tmp["name"])
        assert main["resources"]["limits"] and main["resources"]["requests"]


def test_environment_comes_from_the_configmap_and_the_secret() -> None:
    found = by_identity(render(BASE))
    config = found["ConfigMap", "coins-config"]["data"]
    [secret] = load_yaml_documents(BASE / "secret.template.yaml")
    assert secret["kind"] == "Secret"
    secret_keys = set(secret["stringData"])
    assert secret_keys == SECRET_ENV
    # The template holds placeholders only; nothing secret is in the ConfigMap.
    for key, value in secret["stringData"].items():
        assert "REPLACE_ME" in value or "PASSWORD" in value, key
    assert not SECRET_ENV & set(config)
    assert set(config) | secret_keys >= REQUIRED_ENV
    assert config["WORKER_IN_PROCESS"] == "false"
    assert config["TRUSTED_PROXY_COUNT"] == "1"
    assert config["LOG_FORMAT"] == "json"
    # Every name is one the app reads (a typo would be silently ignored otherwise).
    extra = {"PROMETHEUS_MULTIPROC_DIR"}
    for doc in workloads(list(found.values())):
        main = container(doc)
        assert main["envFrom"] == [
            {"configMapRef": {"name": "coins-config"}},
            {"secretRef": {"name": "coins-secrets"}},
        ]
        names = {e["name"] for e in main.get("env", [])}
        assert names <= set(ENV_VARS) | extra, names - set(ENV_VARS)
        assert not names & SECRET_ENV
    assert set(config) <= set(ENV_VARS), set(config) - set(ENV_VARS)
    assert secret_keys <= set(ENV_VARS)


def test_autoscaling_disruption_and_service() -> None:
    found = by_identity(render(BASE))
    hpa = found["HorizontalPodAutoscaler", "coins-web"]["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "coins-web"}
    assert hpa["minReplicas"] >= 2
    assert hpa["maxReplicas"] > hpa["minReplicas"]
    targets = {m["resource"]["name"]: m["resource"]["target"]["averageUtilization"] for m in hpa["metrics"]}
    assert targets == {"cpu": 70, "memory": 80}
    up, down = hpa["behavior"]["scaleUp"], hpa["behavior"]["scaleDown"]
    assert up["stabilizationWindowSeconds"] <= 60
    assert {"type": "Percent", "value": 100, "periodSeconds": 15} in up["policies"]
    assert down["stabilizationWindowSeconds"] >= 300
    assert down["policies"] == [{"type": "Percent", "value": 10, "periodSeconds": 60}]

    web_labels = found["Deployment", "coins-web"]["spec"]["selector"]["matchLabels"]
    pdb = found["PodDisruptionBudget", "coins-web"]["spec"]
    assert pdb["selector"]["matchLabels"] == web_labels
    assert pdb["maxUnavailable"] == 1
    service = found["Service", "coins-web"]["spec"]
    assert service["selector"] == web_labels
    assert service["ports"] == [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]
    for name in ("staging", "production"):
        overlay = by_identity(render(OVERLAYS[name]))
        spec = overlay["HorizontalPodAutoscaler", "coins-web"]["spec"]
        replicas = overlay["Deployment", "coins-web"]["spec"]["replicas"]
        assert spec["minReplicas"] <= replicas <= spec["maxReplicas"]
        # A PDB allowing one disruption still leaves a replica serving.
        assert spec["minReplicas"] >= 2


def test_network_policy() -> None:
    found = by_identity(render(BASE))
    deny = found["NetworkPolicy", "coins-default-deny"]["spec"]
    assert deny == {
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "coins"}},
        "policyTypes": ["Ingress", "Egress"],
    }
    ingress = found["NetworkPolicy", "coins-web-ingress"]["spec"]
    web_labels = found["Deployment", "coins-web"]["spec"]["selector"]["matchLabels"]
    assert ingress["podSelector"]["matchLabels"] == web_labels
    sources = {
        rule["from"][0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]: rule["ports"]
        for rule in ingress["ingress"]
    }
    # The gateway's proxies for traffic, Prometheus for /metrics: both on the app port, nothing else.
    assert sources == {
        "envoy-gateway-system": [{"port": APP_PORT, "protocol": "TCP"}],
        "monitoring": [{"port": APP_PORT, "protocol": "TCP"}],
    }
    egress = found["NetworkPolicy", "coins-egress"]["spec"]
    assert egress["podSelector"] == deny["podSelector"]
    ports = {(p["port"], p["protocol"]) for rule in egress["egress"] for p in rule["ports"]}
    assert ports == {
        (5432, "TCP"),
        (6379, "TCP"),
        (9200, "TCP"),
        (587, "TCP"),
        (4318, "TCP"),
        (53, "UDP"),
        (53, "TCP"),
    }
    dns = next(rule for rule in egress["egress"] if rule["ports"][0]["port"] == 53)
    assert dns["to"][0]["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "kube-system"}
    # Every coins pod (web, worker, jobs) is covered by the deny-all and the egress rules.
    for doc in workloads(list(found.values())):
        labels = (
            doc["spec"]["jobTemplate"]["spec"]["template"] if doc["kind"] == "CronJob" else doc["spec"]["template"]
        )["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "coins"


def test_migration_job_and_backup_cronjob() -> None:
    found = by_identity(render(BASE))
    job = found["Job", "coins-migrate"]
    assert pod_spec(job)["restartPolicy"] == "Never"
    assert job["spec"]["backoffLimit"] >= 1
    assert job["metadata"]["annotations"]["argocd.argoproj.io/hook"] == "PreSync"
    cron = found["CronJob", "coins-backup"]
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    main = container(cron)
    directory = main["command"][main["command"].index("--dir") + 1]
    mount = next(m for m in main["volumeMounts"] if m["mountPath"] == directory)
    volume = next(v for v in pod_spec(cron)["volumes"] if v["name"] == mount["name"])
    assert volume["persistentVolumeClaim"]["claimName"] in {
        name for kind, name in found if kind == "PersistentVolumeClaim"
    }
    assert int(main["command"][main["command"].index("--keep") + 1]) >= 7


# Overlays ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", sorted(OVERLAYS))
def test_every_patch_targets_something_in_base(overlay: str) -> None:
    base = by_identity(render(BASE))
    for path, patch in patch_targets(OVERLAYS[overlay]):
        target = base.get(identity(patch))
        assert target is not None, f"{path}: {identity(patch)} is not in base"
        assert patch["apiVersion"] == target["apiVersion"], path
        # Patches change values that base has (a misspelt key would add a field nobody reads), except
        # the labels an overlay adds.
        for keys in _leaf_paths(patch):
            if keys[:2] == ("metadata", "labels") or keys[:2] == ("metadata", "name"):
                continue
            assert _has_path(target, keys), f"{path}: {'.'.join(map(str, keys))} is not in base"


def _leaf_paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(node, dict):
        return [
            p
            for key, value in node.items()
            if key not in {"apiVersion", "kind"}
            for p in _leaf_paths(value, (*prefix, key))
        ]
    return [prefix]


def _has_path(node: Any, keys: tuple[Any, ...]) -> bool:
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return True


def test_kustomize_lite_merges_like_kustomize() -> None:
    """The merge rules the renderer relies on, on a small example with known kustomize output."""
    from tests.deploy.kustomize import strategic_merge

    base = {
        "spec": {
            "containers": [{"name": "web", "image": "a", "env": [{"name": "X", "value": "1"}]}],
            "replicas": 1,
        }
    }
    patch = {"spec": {"containers": [{"name": "web", "env": [{"name": "Y", "value": "2"}]}], "replicas": 3}}
    assert strategic_merge(base, patch) == {
        "spec": {
            "containers": [
                {
                    "name": "web",
                    "image": "a",
                    "env": [{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}],
                }
            ],
            "replicas": 3,
        }
    }
    assert strategic_merge({"hostnames": ["a", "b"]}, {"hostnames": ["c"]}) == {"hostnames": ["c"]}


def test_rendered_overlays_write_out(tmp_path: Path) -> None:
    """Rendered output is plain YAML a `kubectl apply -f` would take (no Python objects, no anchors)."""
    for name, directory in OVERLAYS.items():
        text = yaml.safe_dump_all(render(directory), sort_keys=False)
        (tmp_path / f"{name}.yaml").write_text(text)
        assert "&id" not in text and "!!python" not in text
        assert list(yaml.safe_load_all(text))
