"""docker-compose.yml cannot run here (no Docker engine), so check what can be checked."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
AIRFLOW_COMPONENTS = {
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
}
SECRET = re.compile(r"(PASSWORD|SECRET|FERNET|KEY)", re.IGNORECASE)
# the only services that publish a host port: web UIs, each on its own web port
WEB_UIS = {"airflow-apiserver": 8080, "superset": 8088}


def test_validates_against_the_compose_specification():
    checker = Path(sys.executable).with_name("check-jsonschema")
    done = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.compose-spec", str(REPO / "docker-compose.yml")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_production_shape():
    assert AIRFLOW_COMPONENTS | {"postgres", "redis", "airflow-init", "collector"} <= set(SERVICES)
    assert SERVICES["collector"]["command"][:3] == ["python", "-m", "include.cryptodw.collector"]
    worker = SERVICES["airflow-worker"]
    assert worker["environment"]["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert "container_name" not in worker, "a fixed container name prevents --scale"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_dependencies_name_real_services(name):
    for dependency in SERVICES[name].get("depends_on", {}):
        assert dependency in SERVICES, f"{name} depends on unknown service {dependency}"


@pytest.mark.parametrize("name", sorted(AIRFLOW_COMPONENTS | {"postgres", "redis", "collector"}))
def test_long_running_services_have_healthchecks(name):
    assert SERVICES[name].get("healthcheck", {}).get("test"), f"{name} has no healthcheck"


def _secret_values(node, path=""):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _secret_values(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _secret_values(value, f"{path}[{index}]")
    elif isinstance(node, str) and SECRET.search(path.rsplit(".", 1)[-1]):
        yield path, node


def test_no_default_passwords_every_secret_is_required_from_env():
    secrets = list(_secret_values(COMPOSE))
    assert secrets, "expected secret settings to check"
    for path, value in secrets:
        assert re.fullmatch(r"\$\{[A-Z_]+:\?[^}]+\}", value), f"{path} must be ${{VAR:?...}}"
    for url in (v for _, v in _walk_strings(COMPOSE) if "postgresql://" in v or "postgresql+" in v):
        assert re.search(r":\$\{[A-Z_]*PASSWORD:\?[^}]+\}@", url), f"password of {url} not required"


def _walk_strings(node, path=""):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk_strings(value, f"{path}.{key}")
    elif isinstance(node, list):
        for value in node:
            yield from _walk_strings(value, path)
    elif isinstance(node, str):
        yield path, node


def test_only_the_web_ui_is_exposed():
    exposed = {name for name, service in SERVICES.items() if service.get("ports")}
    assert exposed == set(WEB_UIS)


@pytest.mark.parametrize("name", sorted(WEB_UIS))
def test_a_web_ui_publishes_its_web_port_only(name):
    published = [str(port).rsplit(":", 1)[-1] for port in SERVICES[name]["ports"]]
    assert published == [str(WEB_UIS[name])], f"{name} publishes {published}"
    assert "curl" in str(SERVICES[name]["healthcheck"]["test"]), "the UI answers HTTP"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_no_service_bypasses_the_compose_network(name):
    service = SERVICES[name]
    assert service.get("network_mode") != "host", f"{name} shares the host's network"
    assert not service.get("privileged"), f"{name} is privileged"
    assert not service.get("cap_add"), f"{name} adds capabilities"
    assert "/var/run/docker.sock" not in str(service.get("volumes", [])), f"{name} drives Docker"


def test_env_example_lists_every_required_variable_without_values():
    required = set(re.findall(r"\$\{([A-Z_]+):\?", (REPO / "docker-compose.yml").read_text()))
    example = dict(
        line.split("=", 1)
        for line in (REPO / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert required <= set(example)
    assert all(example[name] == "" for name in required), "no real secrets in .env.example"


def test_init_creates_every_pool_the_dags_use_through_the_package():
    from include.cryptodw.airflow_local import POOLS
    from include.cryptodw.assets import VENUES
    from include.cryptodw.cli import build_parser

    init = " ".join(SERVICES["airflow-init"]["command"])
    assert "airflow db migrate" in init
    assert "python -m include.cryptodw.cli pools" in init  # one list of pools: POOLS
    assert build_parser().parse_args(["pools"]).command == "pools"
    ingest = (REPO / "dags" / "ingest_exchanges.py").read_text()
    transform = (REPO / "dags" / "transform_warehouse.py").read_text()
    assert '"pool": f"{venue}_api"' in ingest and 'pool="duckdb_writer"' in transform
    assert {"duckdb_writer"} | {f"{venue}_api" for venue in VENUES} <= set(POOLS)


def test_image_installs_only_the_lock():
    installs = re.findall(r"pip install[^\n]*", (REPO / "Dockerfile").read_text())
    assert installs and all("==" in line or "-r " in line for line in installs), installs


def test_image_copies_paths_that_exist():
    copied = re.findall(r"^COPY (\S+)", (REPO / "Dockerfile").read_text(), re.MULTILINE)
    assert copied and all((REPO / path).exists() for path in copied)


# --- BI: Superset (docs/bi.md) ---------------------------------------------------------------
BI_SERVICES = {"superset-init", "superset", "superset-provision"}


def test_superset_opens_only_the_shared_volume_and_only_read_only():
    for name in BI_SERVICES:
        assert SERVICES[name]["volumes"] == ["cryptodw-data:/data:ro"], name


def test_superset_starts_after_its_init_and_is_provisioned_by_the_project_command():
    superset = SERVICES["superset"]
    assert superset["depends_on"]["superset-init"]["condition"] == "service_completed_successfully"
    assert superset["depends_on"]["superset-db"]["condition"] == "service_healthy"
    for name in ("superset", "superset-db"):
        assert SERVICES[name]["healthcheck"]["test"], f"{name} has no healthcheck"
    provision = SERVICES["superset-provision"]
    assert provision["command"][:3] == ["python", "-m", "include.cryptodw.bi.provision"]
    assert provision["depends_on"]["superset"]["condition"] == "service_healthy"
    assert provision["restart"] == "on-failure", "retried until a snapshot is published"
    init = " ".join(SERVICES["superset-init"]["command"])
    assert all(step in init for step in ("db upgrade", "fab create-admin", "superset init"))


def test_superset_image_is_built_from_the_lock_the_bi_tests_run():
    build = SERVICES["superset"]["build"]
    dockerfile = (REPO / build["context"] / build["dockerfile"]).read_text()
    copied = re.findall(r"^COPY (\S+)", dockerfile, re.MULTILINE)
    assert "requirements-bi.txt" in copied and all((REPO / path).exists() for path in copied)
    lock = (REPO / "requirements-bi.txt").read_text()
    superset_pin = re.search(r"^apache-superset==(\S+)$", lock, re.MULTILINE).group(1)
    assert SERVICES["superset"]["image"] == f"cryptodw-superset:{superset_pin}"
    duckdb_pin = re.compile(r"^duckdb==(\S+)$", re.MULTILINE)
    project_lock = (REPO / "requirements.txt").read_text()
    assert duckdb_pin.search(lock).group(1) == duckdb_pin.search(project_lock).group(1), (
        "Superset must read the warehouse with the duckdb that writes it (storage version)"
    )
