"""docker compose's opt-in `observability` profile: Prometheus scraping every replica (found
through Docker's DNS) and RabbitMQ with the same rules and queue labels as `make run`, and Jaeger
for traces; both on loopback, neither started without the profile."""

import yaml

from devstack.prometheus import RABBITMQ_FAMILIES, RABBITMQ_METRICS_PATH, Queues, queue_relabeling
from services import HTTP_SERVICES
from tests.deploy.conftest import ROOT, run
from tests.deploy.test_prometheus import JOBS, jobs_of

COMPOSE_CONFIG = ROOT / "deploy" / "prometheus" / "prometheus.compose.yml"


def test_compose_scrapes_every_replica_by_dns_with_the_same_rules_and_labels(promtool, compose):
    config = yaml.safe_load(COMPOSE_CONFIG.read_text())
    result = run(promtool, "check", "config", "--syntax-only", COMPOSE_CONFIG)
    assert result.returncode == 0, result.stdout + result.stderr
    jobs = jobs_of(config)
    assert set(jobs) == JOBS
    for service in HTTP_SERVICES:
        (lookup,) = jobs[service.name]["dns_sd_configs"]
        (compose_name,) = service.deployed_as
        assert lookup["names"] == [compose_name] and lookup["port"] == service.port
        assert compose_name in compose.services
    rabbitmq = jobs["rabbitmq"]
    assert rabbitmq["metrics_path"] == RABBITMQ_METRICS_PATH
    assert rabbitmq["params"] == {"family": RABBITMQ_FAMILIES}
    assert rabbitmq["metric_relabel_configs"] == queue_relabeling(Queues.from_env({}))
    # ... and compose runs it with the committed rules, on loopback, only when asked
    prometheus = compose.services["prometheus"]
    assert prometheus["profiles"] == ["observability"]
    mounts = {volume.split(":")[1]: volume.split(":")[0] for volume in prometheus["volumes"]}
    assert mounts["/etc/prometheus/prometheus.yml"] == "./deploy/prometheus/prometheus.compose.yml"
    (rule_file,) = config["rule_files"]
    assert mounts[rule_file] == "./deploy/prometheus/rules.yml"
    assert [port.startswith("127.0.0.1:") for port in prometheus["ports"]] == [True]


def test_compose_offers_jaeger_and_tracing_only_when_asked(compose):
    jaeger = compose.services["jaeger"]
    assert jaeger["profiles"] == ["observability"]
    assert all(port.startswith("127.0.0.1:") for port in jaeger["ports"])
    for service in HTTP_SERVICES:
        (name,) = service.deployed_as
        assert compose.environment(name)["OTEL_EXPORTER_OTLP_ENDPOINT"] == "", name
