"""Every built resource validates against the Kubernetes OpenAPI schemas; CRDs by hand."""

from __future__ import annotations

import copy
import re
from typing import Any

import kubernetes_validate
import pytest
from kubernetes_validate.utils import SchemaNotFoundError, ValidationError, latest_version

from tests.deploy.k8s import K8S, OVERLAYS, Resource, build, by_kind, is_pinned, key, split_image

# 1.31 is the oldest Kubernetes we support; the newest schema catches removed/deprecated fields.
K8S_VERSIONS = ("1.31", latest_version())
CRD_KINDS = {
    "ScaledObject": "keda.sh/v1alpha1",
    "TriggerAuthentication": "keda.sh/v1alpha1",
    "ServiceMonitor": "monitoring.coreos.com/v1",
    "Cluster": "postgresql.cnpg.io/v1",
}


def _validate(resource: Resource, version: str) -> None:
    kubernetes_validate.validate(resource, version, strict=True)


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_every_builtin_resource_validates_strictly(overlay: list[Resource], version: str) -> None:
    errors: list[str] = []
    for resource in overlay:
        if resource["kind"] in CRD_KINDS:
            continue
        try:
            _validate(resource, version)
        except ValidationError as e:
            path = ".".join(str(p) for p in e.path)
            errors.append(f"{key(resource)}: {path}: {e.message}")
        except SchemaNotFoundError as e:
            errors.append(f"{key(resource)}: {e.message}")
    assert not errors, "\n".join(errors)


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_secret_templates_validate_strictly(secret_templates: list[Resource], version: str) -> None:
    for resource in secret_templates:
        _validate(resource, version)


def test_strict_mode_rejects_unknown_fields(overlay: list[Resource]) -> None:
    """Guards the guard: a misspelled field must fail, or the schema test proves nothing."""
    deployment = copy.deepcopy(next(r for r in overlay if r["kind"] == "Deployment"))
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbes"] = {}
    with pytest.raises(ValidationError):
        _validate(deployment, "1.31")


def test_only_known_crds_are_used(overlay: list[Resource]) -> None:
    for resource in overlay:
        if resource["kind"] not in CRD_KINDS:
            continue
        assert resource["apiVersion"] == CRD_KINDS[resource["kind"]], key(resource)
        assert resource["metadata"]["name"], key(resource)


def _require(resource: Resource, *path: str) -> Any:
    node: Any = resource
    for part in path:
        assert isinstance(node, dict), f"{key(resource)}: {'.'.join(path)} is not a mapping"
        assert part in node, f"{key(resource)} lacks {'.'.join(path)}"
        node = node[part]
    return node


def test_scaled_object_scales_workers_on_queue_depth(overlay: list[Resource]) -> None:
    scaled = by_kind(overlay, "ScaledObject")
    auths = by_kind(overlay, "TriggerAuthentication")
    deployments = by_kind(overlay, "Deployment")
    assert set(scaled) == {"alertcast-worker"}
    so = scaled["alertcast-worker"]
    target = _require(so, "spec", "scaleTargetRef", "name")
    assert target in deployments
    assert 1 <= so["spec"]["minReplicaCount"] <= so["spec"]["maxReplicaCount"]
    triggers = _require(so, "spec", "triggers")
    assert [t["type"] for t in triggers] == ["postgresql"]
    meta = triggers[0]["metadata"]
    assert re.fullmatch(
        r"SELECT count\(\*\) FROM delivery WHERE state = 'queued'", meta["query"]
    ), meta["query"]
    assert float(meta["targetQueryValue"]) > 0
    auth = auths[triggers[0]["authenticationRef"]["name"]]
    refs = _require(auth, "spec", "secretTargetRef")
    assert [r["parameter"] for r in refs] == ["connection"]
    assert all(r["name"] and r["key"] for r in refs)


def test_service_monitor_scrapes_the_api_metrics_port(overlay: list[Resource]) -> None:
    (monitor,) = by_kind(overlay, "ServiceMonitor").values()
    selector = _require(monitor, "spec", "selector", "matchLabels")
    services = [
        s
        for s in by_kind(overlay, "Service").values()
        if all(s["metadata"].get("labels", {}).get(k) == v for k, v in selector.items())
    ]
    assert [s["metadata"]["name"] for s in services] == ["alertcast-api"]
    port_names = {p["name"] for p in services[0]["spec"]["ports"]}
    endpoints = _require(monitor, "spec", "endpoints")
    assert endpoints
    for endpoint in endpoints:
        assert endpoint["port"] in port_names
        assert endpoint["path"] == "/metrics"


def test_prod_cnpg_cluster_has_three_spread_instances(overlays: dict[str, list[Resource]]) -> None:
    clusters = by_kind(overlays["prod"], "Cluster")
    assert set(clusters) == {"alertcast-db"}
    cluster = clusters["alertcast-db"]
    assert _require(cluster, "spec", "instances") == 3
    assert _require(cluster, "spec", "storage", "size")
    assert _require(cluster, "spec", "bootstrap", "initdb", "database") == "alertcast"
    assert _require(cluster, "spec", "bootstrap", "initdb", "owner") == "alertcast"
    image = _require(cluster, "spec", "imageName")
    assert is_pinned(image), image
    assert re.fullmatch(r"15\.\d+", split_image(image)[1] or ""), image
    affinity = _require(cluster, "spec", "affinity")
    assert affinity["enablePodAntiAffinity"] is True
    assert affinity["podAntiAffinityType"] == "required"
    sync = _require(cluster, "spec", "postgresql", "synchronous")
    assert sync["method"] in {"any", "first"}
    assert sync["number"] >= 1
    labels = _require(cluster, "spec", "inheritedMetadata", "labels")
    assert labels["app.kubernetes.io/component"] == "database"


def test_dev_has_no_crd_database(overlays: dict[str, list[Resource]]) -> None:
    assert not by_kind(overlays["dev"], "Cluster")
    assert set(by_kind(overlays["dev"], "StatefulSet")) == {"alertcast-postgres"}


@pytest.mark.parametrize("name", OVERLAYS)
def test_overlay_builds_into_one_namespace(name: str) -> None:
    resources = build(K8S / "overlays" / name)
    namespaced = [r for r in resources if r["kind"] != "Namespace"]
    assert namespaced
    assert {r["metadata"].get("namespace") for r in namespaced} == {"alertcast"}
    (namespace,) = by_kind(resources, "Namespace").values()
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
