"""deploy/prometheus/: the rules pass promtool's check and their unit tests, every alert is
tested firing and quiet, is labelled and annotated, and has its section in docs/runbook.md; and
`make run`'s scrape config (devstack/prometheus.py) covers every replica of every service,
RabbitMQ and Prometheus itself (compose's: test_observability_profile.py).

promtool comes with Debian's prometheus package (`make install`); without it these tests fail,
saying so (the `promtool` fixture), rather than skip: the alert tests are part of `make test`.
"""

import re
import shlex
from pathlib import Path

import yaml

from devstack.procfile import PROCFILE, read_procfile, replicate
from devstack.prometheus import (
    RABBITMQ_METRICS_PATH,
    RULES,
    Queues,
    prometheus_args,
    prometheus_config,
    queue_relabeling,
    write_prometheus_config,
)
from services import HTTP_SERVICES
from tests.deploy.conftest import ROOT, run

PROMETHEUS = ROOT / "deploy" / "prometheus"
RULE_TESTS = PROMETHEUS / "rules.test.yml"
RUNBOOK = ROOT / "docs" / "runbook.md"
JOBS = {*(service.name for service in HTTP_SERVICES), "rabbitmq", "prometheus"}


def alerts() -> dict[str, dict]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return {rule["alert"]: rule for group in groups for rule in group["rules"] if "alert" in rule}


def test_the_rules_pass_promtool_check(promtool):
    result = run(promtool, "check", "rules", RULES)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_rules_pass_their_unit_tests(promtool):
    result = run(promtool, "test", "rules", RULE_TESTS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_is_tested_firing_and_quiet():
    cases: dict[str, set[str]] = {name: set() for name in alerts()}
    for test in yaml.safe_load(RULE_TESTS.read_text())["tests"]:
        for case in test.get("alert_rule_test", []):
            assert case["alertname"] in cases, f"rules.test.yml tests no alert {case['alertname']}"
            cases[case["alertname"]].add("firing" if case.get("exp_alerts") else "quiet")
    untested = {name: {"firing", "quiet"} - seen for name, seen in cases.items() if len(seen) < 2}
    assert not untested, f"rules.test.yml lacks these cases: {untested}"


def runbook_anchors() -> set[str]:
    """The anchors of docs/runbook.md's headings, as GitHub makes them."""
    headings = re.findall(r"^#+ (.+)$", RUNBOOK.read_text(), re.M)
    return {re.sub(r"[^\w\- ]", "", h).strip().lower().replace(" ", "-") for h in headings}


def test_every_alert_is_labelled_annotated_and_has_its_runbook_section():
    anchors = runbook_anchors()
    for name, rule in alerts().items():
        assert rule.get("labels", {}).get("severity") in ("critical", "warning"), name
        annotations = rule.get("annotations", {})
        missing = {"summary", "description", "runbook"} - set(annotations)
        assert not missing, f"{name} has no {sorted(missing)} annotation"
        path, _, anchor = annotations["runbook"].partition("#")
        assert path == "docs/runbook.md", f"{name}: runbook {annotations['runbook']}"
        assert anchor == name.lower(), f"{name}: its runbook anchor should be #{name.lower()}"
        assert anchor in anchors, f"docs/runbook.md has no section `## {name}`"
        assert "for" in rule, f"{name}: say how long the condition must hold (for:)"


def test_the_runbook_has_a_section_for_every_alert_and_no_other():
    sections = set(re.findall(r"^## (\w+)$", RUNBOOK.read_text(), re.M))
    assert sections == set(alerts()), f"runbook sections vs alerts: {sections ^ set(alerts())}"


def jobs_of(config: dict) -> dict[str, dict]:
    return {job["job_name"]: job for job in config["scrape_configs"]}


def test_make_run_scrapes_every_replica_rabbitmq_and_itself(promtool, tmp_path):
    processes = replicate(read_procfile(PROCFILE.read_text()), 3)
    path = write_prometheus_config(
        tmp_path,
        prometheus_config(
            upstreams=processes.upstreams,
            rabbitmq="127.0.0.1:15692",
            queues=Queues.from_env({}),
            listen="127.0.0.1:9090",
        ),
    )
    result = run(promtool, "check", "config", path)
    assert result.returncode == 0, result.stdout + result.stderr
    config = yaml.safe_load(path.read_text())
    assert config["rule_files"] == [str(RULES)]
    jobs = jobs_of(config)
    assert set(jobs) == JOBS
    for service in HTTP_SERVICES:  # a job per service, one target per replica
        (targets,) = jobs[service.name]["static_configs"]
        assert targets["targets"] == processes.upstreams[service.name]
        assert len(targets["targets"]) == 3
    assert jobs["rabbitmq"]["metrics_path"] == RABBITMQ_METRICS_PATH
    assert jobs["prometheus"]["static_configs"] == [{"targets": ["127.0.0.1:9090"]}]


def test_queues_are_labelled_by_role_from_the_names_the_processes_use():
    assert Queues.from_env({}) == Queues("notification.post-created", "cleaner")
    queues = Queues.from_env({"NOTIFICATION_QUEUE": "n.x-1", "CLEANER_QUEUE": "c.x-1"})
    relabel = queue_relabeling(queues)
    roles = {rule["replacement"]: rule["regex"] for rule in relabel if "replacement" in rule}
    assert roles == {"events": r"n\.x-1", "dead-letter": r"n\.x-1\.dlq", "cleaner": r"c\.x-1"}
    assert relabel[-1] == {"source_labels": ["soflite_queue"], "regex": ".+", "action": "keep"}


def test_the_procfile_runs_prometheus_on_loopback_with_its_data_under_data():
    command = shlex.split(read_procfile(PROCFILE.read_text())["prometheus"])
    listen = command[-1].removeprefix("--web.listen-address=")
    assert listen == "127.0.0.1:${PROMETHEUS_PORT:-9090}"
    data = Path(".data") / "prometheus"
    assert command == prometheus_args(data / "prometheus.yml", data / "data", listen)
