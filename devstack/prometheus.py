"""Prometheus's local config (`make run`, the tests): a scrape job per declared HTTP service
(services.py) listing every replica, RabbitMQ's own endpoint, Prometheus itself, and the one
committed rules file, deploy/prometheus/rules.yml.

The rules select our queues by role, not by name: RabbitMQ's per-queue series get a
``soflite_queue`` label ("events", "dead-letter", "cleaner") here, from the queue names this
stack uses, and every other queue of the node (another stack's, a push listener's) is dropped
at the scrape. docker compose's config (deploy/prometheus/prometheus.compose.yml) does the same
with the default names.
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from devstack import ROOT
from services import HTTP_SERVICES, service_named

# A config (or a part of one) as YAML holds it.
Config = dict[str, Any]

RULES = ROOT / "deploy" / "prometheus" / "rules.yml"
# RabbitMQ's rabbitmq_prometheus plugin: per-queue series of these families only (its default
# /metrics sums over queues). Queue depth and consumer count are what the rules read.
RABBITMQ_METRICS_PATH = "/metrics/detailed"
RABBITMQ_FAMILIES = ["queue_coarse_metrics", "queue_consumer_count"]
RABBITMQ_METRICS_PORT = 15692  # the plugin's default
DEFAULT_PORT = 9090


@dataclass(frozen=True)
class Queues:
    """The names of the queues the rules watch, as the services are configured."""

    events: str  # NOTIFICATION_QUEUE: the PostCreated quorum queue
    cleaner: str  # CLEANER_QUEUE: the Celery worker's

    @property
    def dead_letter(self) -> str:
        return f"{self.events}.dlq"  # common/messaging.py declares it so

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "Queues":
        """As the processes would read them: the environment, else their settings' defaults."""

        def setting(service: str, field: str) -> str:
            default = service_named(service).settings_class().model_fields[field].default
            return env.get(field.upper()) or str(default)

        events = setting("notification", "notification_queue")
        return cls(events, setting("cleaner", "cleaner_queue"))

    def by_role(self) -> dict[str, str]:
        return {"events": self.events, "dead-letter": self.dead_letter, "cleaner": self.cleaner}


def queue_relabeling(queues: Queues) -> list[Config]:
    """metric_relabel_configs for RabbitMQ's series: label ours by role, drop the rest."""
    rules: list[Config] = [
        {
            "source_labels": ["queue"],
            "regex": re.sub(r"([.^$*+?()\[\]{}|\\])", r"\\\1", name),  # literal; anchored
            "target_label": "soflite_queue",
            "replacement": role,
        }
        for role, name in queues.by_role().items()
    ]
    rules.append({"source_labels": ["soflite_queue"], "regex": ".+", "action": "keep"})
    return rules


def prometheus_config(
    *,
    upstreams: Mapping[str, Sequence[str]],
    rabbitmq: str,
    queues: Queues,
    listen: str,
    scrape_interval: str = "15s",
    evaluation_interval: str = "15s",
) -> Config:
    """The config as a dict: ``upstreams`` is each HTTP service's replicas (host:port, as the
    gateway gets them), ``rabbitmq`` the host:port of its Prometheus endpoint, ``listen``
    Prometheus's own address."""
    if missing := {s.name for s in HTTP_SERVICES} - set(upstreams):
        raise ValueError(f"no replicas given for {sorted(missing)}")
    jobs: list[Config] = [
        {"job_name": service.name, "static_configs": [{"targets": list(upstreams[service.name])}]}
        for service in HTTP_SERVICES
    ]
    jobs.append(
        {
            "job_name": "rabbitmq",
            "metrics_path": RABBITMQ_METRICS_PATH,
            "params": {"family": RABBITMQ_FAMILIES},
            "static_configs": [{"targets": [rabbitmq]}],
            "metric_relabel_configs": queue_relabeling(queues),
        }
    )
    jobs.append({"job_name": "prometheus", "static_configs": [{"targets": [listen]}]})
    return {
        "global": {
            "scrape_interval": scrape_interval,
            "scrape_timeout": min(scrape_interval, "10s", key=_seconds),
            "evaluation_interval": evaluation_interval,
        },
        "rule_files": [str(RULES)],
        "scrape_configs": jobs,
    }


def write_prometheus_config(folder: Path, config: Config) -> Path:
    """``folder/prometheus.yml`` holding ``config`` (:func:`prometheus_config`); its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "prometheus.yml"
    header = "# Written by devstack/prometheus.py on every start: edit that, not this.\n"
    path.write_text(header + yaml.safe_dump(config, sort_keys=False))
    return path


def prometheus_args(config: Path, storage: Path, listen: str) -> list[str]:
    """The command line, as the Procfile's `prometheus:` line has it."""
    return [
        "prometheus",
        f"--config.file={config}",
        f"--storage.tsdb.path={storage}",
        f"--web.listen-address={listen}",
    ]


def _seconds(duration: str) -> float:
    """A Prometheus duration of one unit (15s, 1m, 500ms) in seconds."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h)", duration)
    if match is None:
        raise ValueError(f"not a simple duration: {duration!r}")
    return float(match[1]) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[match[2]]
