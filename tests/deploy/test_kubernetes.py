"""deploy/k8s: valid against the Kubernetes API schemas, complete, and hardened workloads."""

import re
import subprocess

import pytest
from kubernetes_validate import utils as kubernetes_validate

from services import HTTP_SERVICES
from tests.deploy.conftest import K8S, ROOT

# The Kubernetes version the manifests are checked against (kubernetes-validate ships it).
KUBERNETES_VERSION = "1.33.0"
PINNED = re.compile(r"^[\w./-]+:(?!latest$)[\w.-]*\d[\w.-]*$")


def test_every_manifest_validates_against_the_api_schema(kubernetes):
    for documents in kubernetes.documents.values():
        for resource in documents:
            # strict: an unknown or misspelt field is an error, not silently dropped
            kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)


def test_kustomization_lists_every_manifest_and_nothing_missing(kubernetes):
    listed = kubernetes.kustomization["resources"]
    on_disk = sorted(p.name for p in kubernetes.documents)
    assert sorted(listed) == on_disk
    assert not list(K8S.glob("*.yml")), "use .yaml, so the listing check sees every file"


def test_generated_key_files_are_never_committed(kubernetes):
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    for generator in kubernetes.kustomization.get("secretGenerator", []):
        for file in generator.get("files", []):
            path = K8S / file.split("=")[-1]
            ignored = subprocess.run(["git", "check-ignore", "-q", str(path)], cwd=ROOT)
            assert ignored.returncode == 0, f"{path} must be git-ignored"


def pods(kubernetes):
    for name, workload in kubernetes.workloads().items():
        yield name, workload, workload["spec"]["template"]["spec"]


def test_every_workload_has_probes_limits_and_runs_unprivileged_as_non_root(kubernetes):
    for name, _workload, pod in pods(kubernetes):
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        for container in pod["containers"]:
            where = f"{name}/{container['name']}"
            assert "livenessProbe" in container, f"{where}: no liveness probe"
            if container.get("ports"):  # it serves: traffic waits for readiness
                assert "readinessProbe" in container, f"{where}: no readiness probe"
            resources = container["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"]), where
            assert {"cpu", "memory"} <= set(resources["limits"]), where
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["capabilities"] == {"drop": ["ALL"]}, where
            assert PINNED.match(container["image"]), f"{where}: {container['image']}"


def test_our_workloads_have_a_read_only_root_and_a_writable_tmp(kubernetes):
    for name, _workload, pod in pods(kubernetes):
        for container in pod["containers"]:
            if not container["image"].startswith("soflite/"):
                continue
            assert container["securityContext"]["readOnlyRootFilesystem"] is True, name
            mounts = {mount["mountPath"] for mount in container["volumeMounts"]}
            assert "/tmp" in mounts, name


def test_the_http_services_probe_readyz_and_healthz_and_run_two_replicas(kubernetes):
    for name in (process for service in HTTP_SERVICES for process in service.deployed_as):
        deployment = kubernetes.kind("Deployment")[name]
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert deployment["spec"]["replicas"] >= 2


def test_exactly_one_beat_and_it_is_never_doubled_by_a_rollout(kubernetes):
    beats = [
        name
        for name, _workload, pod in pods(kubernetes)
        if any("beat" in container.get("command", []) for container in pod["containers"])
    ]
    assert beats == ["cleaner-beat"]
    beat = kubernetes.kind("Deployment")["cleaner-beat"]["spec"]
    assert beat["replicas"] == 1 and beat["strategy"] == {"type": "Recreate"}


def test_only_auth_mounts_the_private_key(kubernetes):
    for name, _workload, pod in pods(kubernetes):
        for volume in pod.get("volumes", []):
            secret = volume.get("secret", {})
            if secret.get("secretName") == "jwt-keys":
                keys = {item["key"] for item in secret.get("items", [])}
                assert name == "auth-service" or keys == {"jwt_public.pem"}, name


def test_stores_are_single_replica_statefulsets_with_volumes_behind_headless_services(
    kubernetes,
):
    services = kubernetes.kind("Service")
    for name, statefulset in kubernetes.kind("StatefulSet").items():
        spec = statefulset["spec"]
        assert spec["replicas"] == 1 and spec["volumeClaimTemplates"], name
        assert services[spec["serviceName"]]["spec"]["clusterIP"] == "None", name
    assert set(kubernetes.kind("StatefulSet")) == {"rabbitmq", "mongodb", "minio"}


def test_every_service_selects_a_workload_and_the_ingress_reaches_the_gateway(kubernetes):
    labels = [
        workload["spec"]["template"]["metadata"]["labels"]
        for workload in kubernetes.workloads().values()
    ]
    for name, service in kubernetes.kind("Service").items():
        selector = service["spec"]["selector"]
        assert any(selector.items() <= pod_labels.items() for pod_labels in labels), name
    (ingress,) = kubernetes.kind("Ingress").values()
    backends = [
        path["backend"]["service"]["name"]
        for rule in ingress["spec"]["rules"]
        for path in rule["http"]["paths"]
    ]
    assert backends == ["gateway"]


def test_placeholder_credentials_are_marked_as_examples(kubernetes):
    for secret in kubernetes.kind("Secret").values():
        for key, value in secret["stringData"].items():
            if "password" in key:
                assert "EXAMPLE" in value, f"{key} looks like a real secret"
