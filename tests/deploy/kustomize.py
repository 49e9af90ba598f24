"""kustomize-lite: renders deploy/kubernetes the way `kubectl kustomize` does, for what the files use.

Supported (and nothing else, loudly): `resources` (files and directories with their own kustomization),
`namespace`, `images` (newName/newTag), and `patches` with a `path` to a strategic-merge patch that names
its target by apiVersion/kind/metadata.name. Merging follows strategic merge for the fields the patches
touch: mappings merge key by key, lists of objects with a `name` merge by name, anything else replaces.

Checked against `kubectl kustomize` (kustomize v5.5) by hand when written; the tests use this so that a
fresh machine without kubectl renders the overlays too.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

SUPPORTED_KEYS = {"apiVersion", "kind", "namespace", "resources", "images", "patches"}
# Kinds without a namespace (the namespace transformer leaves them alone; a Namespace is renamed).
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"}

Doc = dict[str, Any]


def load_yaml_documents(path: Path) -> list[Doc]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def identity(doc: Doc) -> tuple[str, str]:
    return doc["kind"], doc["metadata"]["name"]


def strategic_merge(base: Any, patch: Any) -> Any:
    if isinstance(base, dict) and isinstance(patch, dict):
        merged = dict(base)
        for key, value in patch.items():
            if value is None:
                merged.pop(key, None)
            elif key in merged:
                merged[key] = strategic_merge(merged[key], value)
            else:
                merged[key] = copy.deepcopy(value)
        return merged
    if (
        isinstance(base, list)
        and isinstance(patch, list)
        and all(isinstance(item, dict) and "name" in item for item in base + patch)
    ):
        merged_list = [copy.deepcopy(item) for item in base]
        for item in patch:
            for index, existing in enumerate(merged_list):
                if existing["name"] == item["name"]:
                    merged_list[index] = strategic_merge(existing, item)
                    break
            else:
                merged_list.append(copy.deepcopy(item))
        return merged_list
    return copy.deepcopy(patch)


def _set_images(docs: list[Doc], images: list[dict[str, str]]) -> None:
    for doc in docs:
        for container in _containers(doc):
            name, _, tag = container["image"].partition(":")
            for image in images:
                if image["name"] == name:
                    new_name = image.get("newName", name)
                    new_tag = image.get("newTag", tag)
                    container["image"] = f"{new_name}:{new_tag}" if new_tag else new_name


def _containers(doc: Doc) -> list[dict[str, Any]]:
    spec = doc.get("spec", {})
    if doc["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    pod = spec.get("template", {}).get("spec", {})
    return list(pod.get("containers", [])) + list(pod.get("initContainers", []))


def render(directory: Path) -> list[Doc]:
    """Every document the kustomization in `directory` produces, in order."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text(encoding="utf-8"))
    unsupported = set(kustomization) - SUPPORTED_KEYS
    if unsupported:
        raise ValueError(f"{directory}: kustomize-lite does not support {sorted(unsupported)}")
    docs: list[Doc] = []
    for resource in kustomization.get("resources", []):
        path = (directory / resource).resolve()
        docs.extend(render(path) if path.is_dir() else load_yaml_documents(path))
    for entry in kustomization.get("patches", []):
        if set(entry) != {"path"}:
            raise ValueError(f"{directory}: only `patches: - path: FILE` is supported, got {entry}")
        for patch in load_yaml_documents(directory / entry["path"]):
            targets = [i for i, doc in enumerate(docs) if identity(doc) == identity(patch)]
            if len(targets) != 1:
                raise ValueError(f"{directory / entry['path']}: patch target {identity(patch)} not found once")
            docs[targets[0]] = strategic_merge(docs[targets[0]], patch)
    namespace = kustomization.get("namespace")
    if namespace:
        for doc in docs:
            if doc["kind"] == "Namespace":
                doc["metadata"]["name"] = namespace
            elif doc["kind"] not in CLUSTER_SCOPED:
                doc["metadata"]["namespace"] = namespace
    _set_images(docs, kustomization.get("images", []))
    return docs


def patch_targets(directory: Path) -> list[tuple[Path, Doc]]:
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text(encoding="utf-8"))
    return [
        (directory / entry["path"], patch)
        for entry in kustomization.get("patches", [])
        for patch in load_yaml_documents(directory / entry["path"])
    ]
