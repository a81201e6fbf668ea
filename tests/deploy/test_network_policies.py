"""deploy/k8s/network-policies.yaml: who may connect to which pod, evaluated as Kubernetes does
(a pod selected by any Ingress policy accepts only what one of those policies allows).

The expected table below is the design; the second test derives, from the manifests, what each
process needs (the gateway's upstreams, the stores in each process's settings), so a new
process or store without its policy fails here rather than in a cluster.
"""

from tests.deploy.conftest import Kubernetes

ANYONE = "anyone"  # a source outside the namespace, or a pod no policy names
OUTSIDE = "(outside)"
# The labels of a namespace whose pods scrape metrics (Prometheus): they reach the services'
# port, where /metrics is (the pods' prometheus.io/* annotations).
MONITORING = {"soflite.io/metrics-scraper": "true"}

SERVICES = {"auth-service", "post-service", "notification-service"}
# (workload, container port name) -> the workloads that may connect, or ANYONE.
EXPECTED: dict[tuple[str, str], str | set[str]] = {
    ("gateway", "http"): ANYONE,
    ("auth-service", "http"): {"gateway"},
    ("post-service", "http"): {"gateway"},
    ("notification-service", "http"): {"gateway"},
    ("mongodb", "mongodb"): SERVICES | {"cleaner-worker"},  # one server, the three databases
    ("rabbitmq", "amqp"): SERVICES - {"auth-service"} | {"cleaner-worker", "cleaner-beat"},
    ("rabbitmq", "management"): set(),  # kubectl port-forward only
    ("minio", "s3"): {"post-service"},
    ("minio", "console"): set(),  # kubectl port-forward only
}


def pod_labels(workload: dict) -> dict[str, str]:
    return workload["spec"]["template"]["metadata"]["labels"]


def container_ports(workload: dict) -> dict[str, int]:
    return {
        port["name"]: port["containerPort"]
        for container in workload["spec"]["template"]["spec"]["containers"]
        for port in container.get("ports", [])
    }


def selects(selector: dict, labels: dict[str, str]) -> bool:
    assert set(selector) <= {"matchLabels"}, f"matchExpressions are not evaluated: {selector}"
    return selector.get("matchLabels", {}).items() <= labels.items()


def ingress_policies(kubernetes: Kubernetes, labels: dict[str, str]) -> list[dict]:
    return [
        policy
        for policy in kubernetes.kind("NetworkPolicy").values()
        if "Ingress" in policy["spec"].get("policyTypes", ["Ingress"])
        and selects(policy["spec"]["podSelector"], labels)
    ]


def allowed(
    kubernetes: Kubernetes,
    source: dict[str, str] | None,
    target: dict,
    port: str,
    namespace: dict[str, str] | None = None,
) -> bool:
    """May a pod with labels `source` (None: from outside the namespace, from a namespace
    labelled `namespace`) open `port` (a container port name) of `target`'s pods?"""
    policies = ingress_policies(kubernetes, pod_labels(target))
    if not policies:
        return True  # not isolated
    number = container_ports(target)[port]
    for policy in policies:
        for rule in policy["spec"].get("ingress", []):
            ports = rule.get("ports")
            if ports is not None and not any(p["port"] in (port, number) for p in ports):
                continue
            peers = rule.get("from")
            if peers is None:
                return True  # every source
            for peer in peers:
                assert set(peer) in ({"podSelector"}, {"namespaceSelector"}), f"peer {peer}"
                if "podSelector" in peer:  # a pod of this namespace
                    if source is not None and selects(peer["podSelector"], source):
                        return True
                elif (  # any pod of a namespace with these labels
                    source is None
                    and namespace is not None
                    and selects(peer["namespaceSelector"], namespace)
                ):
                    return True
    return False


def test_ingress_is_denied_by_default_and_every_workload_is_covered(kubernetes):
    policies = kubernetes.kind("NetworkPolicy")
    deny = policies["default-deny-ingress"]["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress"]}
    for name, workload in kubernetes.workloads().items():
        own = [
            policy["metadata"]["name"]
            for policy in ingress_policies(kubernetes, pod_labels(workload))
            if policy["spec"]["podSelector"]
        ]
        if container_ports(workload):
            assert own == [name], f"{name}: one policy of its own, named after it ({own})"
        else:
            assert own == [], f"{name} serves nothing, so nothing should be let in ({own})"


def test_each_port_accepts_exactly_the_workloads_of_the_design(kubernetes):
    workloads = kubernetes.workloads()
    served = {(name, port) for name, w in workloads.items() for port in container_ports(w)}
    assert served == set(EXPECTED), "a port without an entry in EXPECTED, or one gone"
    for (target, port), expected in EXPECTED.items():
        reached_by = {
            source
            for source, workload in workloads.items()
            if allowed(kubernetes, pod_labels(workload), workloads[target], port)
        }
        from_outside = allowed(kubernetes, None, workloads[target], port)
        if expected == ANYONE:
            assert from_outside and reached_by == set(workloads), (target, port)
        else:
            assert not from_outside, f"{target}:{port} is open to anyone"
            assert reached_by == expected, (target, port, reached_by)


def test_a_metrics_scraper_reaches_the_services_port_and_nothing_else(kubernetes):
    """From a namespace labelled MONITORING: each HTTP service's port, where its pods'
    annotations send a scraper; no store, and not from an unlabelled namespace."""
    workloads = kubernetes.workloads()
    for name, workload in workloads.items():
        for port in container_ports(workload):
            scraped = allowed(kubernetes, None, workload, port, namespace=MONITORING)
            expected = name == "gateway" or (name in SERVICES and port == "http")
            assert scraped == expected, (name, port)
    for name in SERVICES:
        annotations = workloads[name]["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true", name
        assert annotations["prometheus.io/path"] == "/metrics", name
        assert int(annotations["prometheus.io/port"]) == container_ports(workloads[name])["http"]
        assert not allowed(kubernetes, None, workloads[name], "http", namespace={}), name


def test_every_process_reaches_what_its_settings_point_at(kubernetes):
    """Derived from the manifests: the gateway's upstreams, and each process's stores."""
    workloads = kubernetes.workloads()
    by_service = {
        service: (name, port["targetPort"])
        for service, spec in ((s, r["spec"]) for s, r in kubernetes.kind("Service").items())
        for name, workload in workloads.items()
        if spec["selector"].items() <= pod_labels(workload).items()
        for port in spec["ports"]
    }
    gateway = pod_labels(workloads["gateway"])
    for variable, upstream in kubernetes.kind("ConfigMap")["gateway"]["data"].items():
        if variable.endswith("_UPSTREAM"):
            target, port = by_service[kubernetes.service_for_host(upstream.rsplit(":", 1)[0])]
            assert allowed(kubernetes, gateway, workloads[target], port), upstream
    needs = {"RABBITMQ_URL": ("rabbitmq", "amqp"), "S3_ENDPOINT": ("minio", "s3")}
    needs["MONGO_URL"] = ("mongodb", "mongodb")
    for name, workload in workloads.items():
        for container in workload["spec"]["template"]["spec"]["containers"]:
            env = kubernetes.container_env(container)
            for variable, (target, port) in needs.items():
                # beat only sends tasks: its settings read MONGO_URL, but it never connects
                if variable not in env or (name, variable) == ("cleaner-beat", "MONGO_URL"):
                    continue
                assert allowed(kubernetes, pod_labels(workload), workloads[target], port), (
                    f"{name} has {variable} but may not reach {target}:{port}"
                )
