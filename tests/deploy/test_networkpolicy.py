"""NetworkPolicies: default deny, then exactly the paths alertcast needs, evaluated per path."""

from __future__ import annotations

import pytest

from tests.deploy.k8s import (
    NAMESPACE,
    Endpoint,
    Resource,
    address,
    allowed,
    by_kind,
    external_pod,
    pod_endpoints,
)

INGRESS_CONTROLLER = external_pod("ingress-nginx", "ingress-nginx", app="ingress-nginx")
PROMETHEUS = external_pod("prometheus", "monitoring", app="prometheus")
KEDA = external_pod("keda-operator", "keda", app="keda-operator")
CNPG_OPERATOR = external_pod("cnpg-operator", "cnpg-system", app="cloudnative-pg")
STRANGER = external_pod("stranger", "default", app="other")
DNS = external_pod("kube-dns", "kube-system", **{"k8s-app": "kube-dns"})
MMSC = address("operator MMSC", "192.0.2.10")  # the placeholder range in base
INTERNET = address("internet", "203.0.113.7")


def _policies(resources: list[Resource]) -> list[Resource]:
    return list(by_kind(resources, "NetworkPolicy").values())


def _pods(resources: list[Resource]) -> dict[str, Endpoint]:
    return pod_endpoints(resources)


def test_default_deny_covers_every_pod(overlay: list[Resource]) -> None:
    deny = by_kind(overlay, "NetworkPolicy")["alertcast-default-deny"]["spec"]
    assert deny["podSelector"] == {}
    assert sorted(deny["policyTypes"]) == ["Egress", "Ingress"]
    assert "ingress" not in deny
    assert "egress" not in deny


@pytest.mark.parametrize("overlay_name", ["dev", "prod"])
def test_required_paths_are_open(overlays: dict[str, list[Resource]], overlay_name: str) -> None:
    resources = overlays[overlay_name]
    policies, pods = _policies(resources), _pods(resources)
    db = pods["database"]
    must = [
        (pods["api"], db, 5432),
        (pods["worker"], db, 5432),
        (pods["migrate"], db, 5432),
        (KEDA, db, 5432),
        (INGRESS_CONTROLLER, pods["api"], 8000),
        (PROMETHEUS, pods["api"], 8000),
    ]
    if overlay_name == "dev":
        must += [(pods["worker"], pods["mmsc-sim"], 8100), (pods["mmsc-sim"], pods["api"], 8000)]
    else:
        must += [
            (pods["worker"], MMSC, 443),
            (db, db, 5432),
            (CNPG_OPERATOR, db, 8000),
        ]
    closed = [f"{s.name} -> {d.name}:{p}" for s, d, p in must if not allowed(policies, s, d, p)]
    assert not closed, "blocked but needed: " + ", ".join(closed)
    for pod in pods.values():
        for proto in ("UDP", "TCP"):
            assert allowed(policies, pod, DNS, 53, proto), f"{pod.name} cannot resolve names"


@pytest.mark.parametrize("overlay_name", ["dev", "prod"])
def test_everything_else_is_closed(overlays: dict[str, list[Resource]], overlay_name: str) -> None:
    resources = overlays[overlay_name]
    policies, pods = _policies(resources), _pods(resources)
    api, worker, migrate, db = pods["api"], pods["worker"], pods["migrate"], pods["database"]
    must_not = [
        (api, MMSC, 443),
        (api, INTERNET, 443),
        (worker, INTERNET, 443),
        (migrate, MMSC, 443),
        (api, worker, 8000),
        (worker, api, 8000),
        (INGRESS_CONTROLLER, worker, 8000),
        (INGRESS_CONTROLLER, db, 5432),
        (STRANGER, api, 8000),
        (STRANGER, db, 5432),
        (PROMETHEUS, db, 5432),
        (api, DNS, 80),
        (db, INTERNET, 80),
        (api, db, 8000),
    ]
    if overlay_name == "dev":
        sim = pods["mmsc-sim"]
        must_not += [
            (api, sim, 8100),
            (migrate, sim, 8100),
            (sim, db, 5432),
            (sim, INTERNET, 443),
            (INGRESS_CONTROLLER, sim, 8100),
            (worker, MMSC, 443),  # dev replaces the operator range with the simulator
        ]
    open_ = [f"{s.name} -> {d.name}:{p}" for s, d, p in must_not if allowed(policies, s, d, p)]
    assert not open_, "open but not needed: " + ", ".join(open_)


def test_evaluator_sees_default_deny() -> None:
    """The evaluator itself: with only a default deny, nothing moves; with no policy, all does."""
    a = Endpoint(name="a", namespace=NAMESPACE, labels={"x": "a"})
    b = Endpoint(name="b", namespace=NAMESPACE, labels={"x": "b"})
    deny: Resource = {
        "kind": "NetworkPolicy",
        "metadata": {"name": "deny"},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
    }
    assert allowed([], a, b, 80)
    assert not allowed([deny], a, b, 80)
    allow_egress: Resource = {
        "kind": "NetworkPolicy",
        "metadata": {"name": "egress"},
        "spec": {
            "podSelector": {"matchLabels": {"x": "a"}},
            "policyTypes": ["Egress"],
            "egress": [
                {"to": [{"podSelector": {"matchLabels": {"x": "b"}}}], "ports": [{"port": 80}]}
            ],
        },
    }
    assert not allowed([deny, allow_egress], a, b, 80), "b's ingress is still denied"
