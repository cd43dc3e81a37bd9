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
        assert "${POSTGRES_PASSWORD:?" in url, url


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
    assert exposed == {"airflow-apiserver"}


def test_env_example_lists_every_required_variable_without_values():
    required = set(re.findall(r"\$\{([A-Z_]+):\?", (REPO / "docker-compose.yml").read_text()))
    example = dict(
        line.split("=", 1)
        for line in (REPO / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert required <= set(example)
    assert all(example[name] == "" for name in required), "no real secrets in .env.example"


def test_image_copies_paths_that_exist():
    copied = re.findall(r"^COPY (\S+)", (REPO / "Dockerfile").read_text(), re.MULTILINE)
    assert copied and all((REPO / path).exists() for path in copied)
