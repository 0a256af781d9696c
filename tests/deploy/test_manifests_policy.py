"""Policy checks on the built overlays: images, resources, probes, pod security, wiring."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest
import yaml

from tests.deploy.k8s import (
    K8S,
    Resource,
    by_kind,
    containers,
    is_alertcast,
    is_pinned,
    key,
    matches,
    pod_template,
    split_image,
    workloads,
)

ALERTCAST_COMMANDS = {"serve", "worker", "db", "mmsc-sim"}
APP_UID = 10001


def _base_image_tag() -> str:
    kustomization = yaml.safe_load((K8S / "base" / "kustomization.yaml").read_text())
    (entry,) = [i for i in kustomization["images"] if i["name"] == "ghcr.io/alertcast/alertcast"]
    tag: str = entry["newTag"]
    return tag


def test_every_image_is_pinned(overlay: list[Resource]) -> None:
    for resource, spec in workloads(overlay):
        for container in containers(spec):
            assert is_pinned(container["image"]), f"{key(resource)}: {container['image']}"


def test_alertcast_image_is_the_release_tag(overlay: list[Resource]) -> None:
    tag = _base_image_tag()
    assert tag != "latest"
    assert tag[0].isdigit()
    for resource, spec in workloads(overlay):
        for container in containers(spec):
            if is_alertcast(container):
                assert split_image(container["image"]) == ("ghcr.io/alertcast/alertcast", tag, None)
                assert container.get("imagePullPolicy") == "IfNotPresent", key(resource)


def test_dev_postgres_is_pinned_to_15(overlays: dict[str, list[Resource]]) -> None:
    (statefulset,) = by_kind(overlays["dev"], "StatefulSet").values()
    (container,) = statefulset["spec"]["template"]["spec"]["containers"]
    repository, tag, _ = split_image(container["image"])
    assert repository == "postgres"
    assert tag is not None
    assert tag.startswith("15.")
    assert tag.split("-")[0].count(".") == 1


def test_every_container_has_requests_and_limits(overlay: list[Resource]) -> None:
    for resource, spec in workloads(overlay):
        for container in containers(spec):
            res = container.get("resources", {})
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(res.get(bound, {})), (
                    f"{key(resource)}/{container['name']} lacks {bound}"
                )


def test_every_server_has_readiness_and_liveness_probes(overlay: list[Resource]) -> None:
    for resource, spec in workloads(overlay):
        for container in spec["containers"]:
            if container.get("ports"):
                for probe in ("readinessProbe", "livenessProbe"):
                    assert probe in container, f"{key(resource)}/{container['name']}: {probe}"


def test_api_probes_and_command(overlay: list[Resource]) -> None:
    api = by_kind(overlay, "Deployment")["alertcast-api"]
    (container,) = api["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["serve", "--host", "0.0.0.0", "--port", "8000"]
    assert container["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    # Zero-downtime rollout: never below the desired count, drain before stopping.
    assert api["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert container["lifecycle"]["preStop"]["sleep"]["seconds"] > 0


def test_alertcast_containers_run_known_commands(overlay: list[Resource]) -> None:
    for resource, spec in workloads(overlay):
        for container in containers(spec):
            if is_alertcast(container):
                assert "command" not in container, "the image's ENTRYPOINT is `alertcast`"
                assert container["args"][0] in ALERTCAST_COMMANDS, key(resource)


def test_migration_job_runs_db_upgrade(overlay: list[Resource]) -> None:
    job = by_kind(overlay, "Job")["alertcast-migrate"]
    spec = job["spec"]["template"]["spec"]
    assert spec["restartPolicy"] == "Never"
    assert [c["args"] for c in spec["containers"]] == [["db", "upgrade"]]
    assert job["spec"]["backoffLimit"] <= 3


def test_worker_has_a_grace_period_for_its_batch(overlay: list[Resource]) -> None:
    worker = by_kind(overlay, "Deployment")["alertcast-worker"]
    spec = worker["spec"]["template"]["spec"]
    assert spec["terminationGracePeriodSeconds"] >= 60
    assert [c["args"] for c in spec["containers"]] == [["worker"]]


def _pod_problems(spec: Mapping[str, Any]) -> list[str]:
    pod = spec.get("securityContext", {})
    problems = [flag for flag in ("hostNetwork", "hostPID", "hostIPC") if spec.get(flag)]
    if pod.get("runAsNonRoot") is not True:
        problems.append("pod runAsNonRoot")
    if pod.get("seccompProfile", {}).get("type") != "RuntimeDefault":
        problems.append("pod seccompProfile RuntimeDefault")
    if any("hostPath" in v for v in spec.get("volumes", [])):
        problems.append("hostPath volume")
    return problems


def _container_problems(container: Mapping[str, Any], pod_uid: int) -> list[str]:
    sc = container.get("securityContext", {})
    caps = sc.get("capabilities", {})
    checks = {
        "allowPrivilegeEscalation": sc.get("allowPrivilegeEscalation") is False,
        "readOnlyRootFilesystem": sc.get("readOnlyRootFilesystem") is True,
        "privileged": not sc.get("privileged"),
        "capabilities drop ALL, add none": caps.get("drop") == ["ALL"] and not caps.get("add"),
        "uid is not 0": sc.get("runAsUser", pod_uid) != 0,
    }
    return [f"{container['name']}: {name}" for name, ok in checks.items() if not ok]


def _pod_security(resource: Resource, spec: Mapping[str, Any]) -> list[str]:
    pod_uid = spec.get("securityContext", {}).get("runAsUser", 0)
    problems = _pod_problems(spec)
    for container in containers(spec):
        problems += _container_problems(container, pod_uid)
    return [f"{key(resource)}: {p}" for p in problems]


def test_every_pod_is_restricted_non_root_read_only(overlay: list[Resource]) -> None:
    problems = [p for resource, spec in workloads(overlay) for p in _pod_security(resource, spec)]
    assert not problems, "\n".join(problems)


def test_alertcast_pods_run_as_image_user_with_writable_tmp(overlay: list[Resource]) -> None:
    for resource, spec in workloads(overlay):
        if not any(is_alertcast(c) for c in spec["containers"]):
            continue
        assert spec["securityContext"]["runAsUser"] == APP_UID, key(resource)
        assert spec["automountServiceAccountToken"] is False, key(resource)
        empty_dirs = {v["name"] for v in spec.get("volumes", []) if "emptyDir" in v}
        for container in spec["containers"]:
            mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
            assert mounts.get("/tmp") in empty_dirs, f"{key(resource)}: /tmp is not an emptyDir"


def _references(resources: list[Resource]) -> Iterator[tuple[str, str, str]]:
    """(kind, name, referrer) for every ConfigMap/Secret a workload or KEDA reads."""
    for resource, spec in workloads(resources):
        for container in containers(spec):
            for source in container.get("envFrom", []):
                for ref_kind, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
                    if ref_kind in source:
                        yield kind, source[ref_kind]["name"], key(resource)
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    yield "Secret", ref["name"], key(resource)
    for auth in by_kind(resources, "TriggerAuthentication").values():
        for ref in auth["spec"]["secretTargetRef"]:
            yield "Secret", ref["name"], key(auth)


def test_config_and_secret_references_resolve(
    overlays: dict[str, list[Resource]], secret_templates: list[Resource]
) -> None:
    templates = set(by_kind(secret_templates, "Secret"))
    for name, resources in overlays.items():
        known = {kind: set(by_kind(resources, kind)) for kind in ("ConfigMap", "Secret")}
        # CloudNativePG writes <cluster>-app with username/password/uri for the owner role.
        known["Secret"] |= {f"{c}-app" for c in by_kind(resources, "Cluster")}
        if name == "prod":
            known["Secret"] |= templates  # created out of band from the templates
        for kind, ref, referrer in _references(resources):
            assert ref in known[kind], f"{name}: {referrer} reads missing {kind}/{ref}"


def _selected_templates(
    resources: list[Resource], selector: Mapping[str, Any]
) -> list[Mapping[str, Any]]:
    """Pod templates of the workloads a selector picks."""
    found = []
    for resource, _ in workloads(resources):
        template = pod_template(resource)
        assert template is not None
        if matches(selector, template["metadata"]["labels"]):
            found.append(template)
    return found


def test_services_and_pdbs_select_exactly_one_workload(overlay: list[Resource]) -> None:
    for service in by_kind(overlay, "Service").values():
        selected = _selected_templates(overlay, {"matchLabels": service["spec"]["selector"]})
        assert len(selected) == 1, f"{key(service)} selects {len(selected)} workloads"
        template = selected[0]
        names = {p.get("name") for c in template["spec"]["containers"] for p in c.get("ports", [])}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in names, key(service)
    for pdb in by_kind(overlay, "PodDisruptionBudget").values():
        assert len(_selected_templates(overlay, pdb["spec"]["selector"])) == 1, key(pdb)


def test_autoscaled_deployments_leave_replicas_to_the_autoscaler(overlay: list[Resource]) -> None:
    targets = [
        h["spec"]["scaleTargetRef"]["name"]
        for h in by_kind(overlay, "HorizontalPodAutoscaler").values()
    ]
    targets += [
        s["spec"]["scaleTargetRef"]["name"] for s in by_kind(overlay, "ScaledObject").values()
    ]
    deployments = by_kind(overlay, "Deployment")
    assert sorted(targets) == ["alertcast-api", "alertcast-worker"]
    for target in targets:
        # Re-applying the manifests must not reset a scaled-up Deployment.
        assert "replicas" not in deployments[target]["spec"], target


def test_api_hpa_scales_on_cpu(overlay: list[Resource]) -> None:
    hpa = by_kind(overlay, "HorizontalPodAutoscaler")["alertcast-api"]
    assert hpa["apiVersion"] == "autoscaling/v2"
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    assert hpa["spec"]["minReplicas"] >= 2
    api = by_kind(overlay, "Deployment")["alertcast-api"]
    assert api["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"]


def test_ingress_routes_console_api_and_mm7_but_not_metrics(overlay: list[Resource]) -> None:
    services = by_kind(overlay, "Service")
    routes: dict[str, Resource] = {}
    for ingress in by_kind(overlay, "Ingress").values():
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                ports = {p["name"] for p in services[backend["name"]]["spec"]["ports"]}
                assert backend["port"]["name"] in ports, key(ingress)
                routes[path["path"]] = ingress
    assert {"/", "/mm7", "/metrics"} <= set(routes)
    allow = "nginx.ingress.kubernetes.io/whitelist-source-range"
    assert routes["/metrics"]["metadata"]["annotations"][allow] == "127.0.0.1/32"
    assert allow in routes["/mm7"]["metadata"]["annotations"]
    assert allow not in routes["/"]["metadata"].get("annotations", {})


def test_prod_spreads_pods_over_nodes_and_zones(overlays: dict[str, list[Resource]]) -> None:
    prod = overlays["prod"]
    for name in ("alertcast-api", "alertcast-worker"):
        spec = by_kind(prod, "Deployment")[name]["spec"]["template"]["spec"]
        assert spec["affinity"]["podAntiAffinity"], name
        keys = {c["topologyKey"] for c in spec["topologySpreadConstraints"]}
        assert "topology.kubernetes.io/zone" in keys, name
    assert by_kind(prod, "HorizontalPodAutoscaler")["alertcast-api"]["spec"]["minReplicas"] >= 3
    assert by_kind(prod, "ScaledObject")["alertcast-worker"]["spec"]["minReplicaCount"] >= 2
    assert by_kind(prod, "PodDisruptionBudget")["alertcast-api"]["spec"]["minAvailable"] >= 2


def test_dev_runs_the_mmsc_simulator_and_prod_does_not(overlays: dict[str, list[Resource]]) -> None:
    sim = by_kind(overlays["dev"], "Deployment")["alertcast-mmsc-sim"]
    (container,) = sim["spec"]["template"]["spec"]["containers"]
    assert container["args"][:3] == ["mmsc-sim", "--port", "8100"]
    assert "--vasp-url" in container["args"]
    config = by_kind(overlays["dev"], "ConfigMap")["alertcast-config"]["data"]
    assert config["ALERTCAST_MMSC_URL"].startswith("http://alertcast-mmsc-sim:8100/")
    assert config["ALERTCAST_ENV"] == "development"
    assert "alertcast-mmsc-sim" not in by_kind(overlays["prod"], "Deployment")
    assert (
        by_kind(overlays["prod"], "ConfigMap")["alertcast-config"]["data"]["ALERTCAST_ENV"]
        == "production"
    )


@pytest.mark.parametrize("name", ["ALERTCAST_DATABASE_URL", "ALERTCAST_SECRET_KEY"])
def test_no_secret_setting_lives_in_a_configmap(overlay: list[Resource], name: str) -> None:
    for configmap in by_kind(overlay, "ConfigMap").values():
        assert name not in configmap.get("data", {}), key(configmap)


def test_pre_rollout_selector_carries_what_the_migrate_job_needs(
    overlays: dict[str, list[Resource]],
) -> None:
    """README: `kubectl apply -k ... -l 'app.kubernetes.io/component in (config,migrate)'`."""
    for name, resources in overlays.items():
        selected = {
            key(r)
            for r in resources
            if r["metadata"].get("labels", {}).get("app.kubernetes.io/component")
            in {"config", "migrate"}
        }
        assert "Job/alertcast-migrate" in selected
        assert not any(k.startswith(("Deployment/", "StatefulSet/")) for k in selected), name
        spec = by_kind(resources, "Job")["alertcast-migrate"]["spec"]["template"]["spec"]
        assert f"ServiceAccount/{spec['serviceAccountName']}" in selected
        needed = {
            (kind, ref) for kind, ref, referrer in _references(resources) if "Job/" in referrer
        }
        for kind, ref in needed:
            out_of_band = name == "prod" and kind == "Secret"
            assert out_of_band or f"{kind}/{ref}" in selected, f"{name}: {kind}/{ref}"
