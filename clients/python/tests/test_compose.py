"""docker-compose.yml: valid against the Compose schema, its Prometheus config accepted by promtool,
and its services' own commands, run as processes on loopback, deliver every batch to /stats.

No Docker engine is needed: the smoke test takes each service's command from docker-compose.yml
and changes only what a single host requires — the services' hostnames become 127.0.0.1, their
ports free ones (the two sidecars both listen on 5555 in their containers), the data folder a
temporary one, and the trainer sends 40 batches instead of 2000.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import jsonschema
import pytest
import yaml

from lossd_testkit import LossdProcess, free_tcp_port, repo_root, wait_for, wait_listening

COMPOSE = repo_root() / "docker-compose.yml"
SCHEMA = repo_root() / "Tests" / "Fixtures" / "compose" / "compose-spec.json"


def compose():
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_file_is_valid_against_the_compose_schema():
    schema = json.loads(SCHEMA.read_text())
    document = compose()
    jsonschema.Draft7Validator.check_schema(schema)
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(document), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)
    services = document["services"]
    assert {"aggregator", "sidecar-a", "sidecar-b", "trainer", "prometheus"} <= set(services)
    # Published ports stay on the host's loopback; every lossd service has a healthcheck.
    for name, service in services.items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"
    for name in ("aggregator", "sidecar-a", "sidecar-b", "prometheus"):
        assert "healthcheck" in services[name], f"{name} has no healthcheck"


def test_prometheus_config_and_alert_rules_pass_promtool(tmp_path):
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing (make deps installs Debian's prometheus package)"
    # The config names its rule file by its path inside the container; check it with the real one.
    config = (repo_root() / "Config" / "prometheus.yml").read_text()
    rules = repo_root() / "Config" / "alerts.yml"
    (tmp_path / "prometheus.yml").write_text(config.replace("/etc/prometheus/lossd-alerts.yml", str(rules)))
    result = subprocess.run([promtool, "check", "config", str(tmp_path / "prometheus.yml")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    mounted = {v.split(":")[1] for v in compose()["services"]["prometheus"]["volumes"] if v.startswith("./")}
    assert "/etc/prometheus/lossd-alerts.yml" in mounted and "/etc/prometheus/prometheus.yml" in mounted


def localize(arguments, ports, data):
    """A service's command with the hostnames, ports and data folder of one host."""
    result = []
    for argument in arguments:
        argument = str(argument).replace("/var/lib/lossd", str(data))
        argument = re.sub(r"tcp://0\.0\.0\.0:(\d+)", lambda m: f"tcp://127.0.0.1:{ports[('self', m.group(1))]}", argument)
        argument = re.sub(r"0\.0\.0\.0:(\d+)", lambda m: f"127.0.0.1:{ports[('self', m.group(1))]}", argument)
        argument = re.sub(r"tcp://([a-z][a-z0-9-]*):(\d+)",
                          lambda m: f"tcp://127.0.0.1:{ports[(m.group(1), m.group(2))]}", argument)
        result.append(argument)
    return result


def test_compose_services_run_on_loopback_deliver_every_batch(lossd_bin, tmp_path):
    services = compose()["services"]
    port = {("aggregator", "5556"): free_tcp_port(), ("aggregator", "9180"): free_tcp_port(),
            ("sidecar-a", "5555"): free_tcp_port(), ("sidecar-b", "5555"): free_tcp_port()}
    processes = []
    try:
        for name in ("aggregator", "sidecar-a", "sidecar-b"):
            own = {("self", p): port[(name, p)] for (service, p) in port if service == name}
            arguments = localize(services[name]["command"], {**port, **own}, tmp_path)
            processes.append(LossdProcess([lossd_bin] + arguments, tmp_path, name))
        http = port[("aggregator", "9180")]
        wait_listening(processes[1], port[("sidecar-a", "5555")])
        wait_listening(processes[2], port[("sidecar-b", "5555")])

        trainer = localize(services["trainer"]["command"], port, tmp_path)
        trainer[trainer.index("--steps") + 1] = "40"
        trainer[trainer.index("--interval") + 1] = "0"
        trainer += ["--boxes", "2000"]
        result = subprocess.run([sys.executable, str(repo_root() / "Examples" / "numpy_trainer.py")] + trainer,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        assert "sent 40 batches" in result.stdout

        def stats():
            with urllib.request.urlopen(f"http://127.0.0.1:{http}/stats", timeout=5) as response:
                return json.load(response)

        assert wait_for(lambda: stats()["records"] >= 40, timeout=60), processes[0].stderr()[-2000:]
        figures = stats()
        split = figures["splits"][0]
        assert (split["run"], split["batches"]) == ("compose-demo", 40)
        source = figures["sources"][0]
        assert (source["source"], source["highest_seq"], source["lost"], source["duplicates"]) == ("trainer-1", 39, 0, 0)
        # Both sidecars took a share: the trainer's PUSH socket deals batches to each in turn.
        for sidecar in processes[1:]:
            assert sidecar.stop() == 0
            received = sidecar.counts()[0]
            assert received > 0, f"{sidecar} received nothing"
        assert processes[0].stop() == 0
        assert (tmp_path / "state.json").exists() and (tmp_path / "snapshots.jsonl").exists()
    finally:
        for process in processes:
            process.kill()
