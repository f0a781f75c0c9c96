"""The container setup: docker-compose.yml's contract, the Dockerfile's copies, the entrypoint's seeding of the demo
model. No Docker engine is needed; `docker compose config` (or docker-compose's) runs when a CLI is installed."""

from __future__ import annotations

import ast
import dataclasses
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from config.settings import Settings
from models.bundle import ModelBundle
from models.registry import Registry

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = {f"WAYFINDER_{field.name.upper()}" for field in dataclasses.fields(Settings)}
DEMO_REGISTRY = "/app/demo-registry"
"""Where the Dockerfile trains the demo model and where deploy/entrypoint.sh looks for it."""


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def services_built_here(compose: dict) -> dict[str, dict]:
    return {name: service for name, service in compose["services"].items() if "build" in service}


def command_text(service: dict) -> str:
    command = service.get("command", "")
    return " ".join(command) if isinstance(command, list) else command


def test_redis_keeps_an_append_only_file_on_a_volume_and_is_health_checked(compose):
    redis = compose["services"]["redis"]
    assert redis["image"].startswith("redis:7")
    command = command_text(redis)
    assert "--appendonly yes" in command and "--appendfsync everysec" in command
    volume = redis["volumes"][0].split(":")
    assert volume[1] == "/data" and volume[0] in compose["volumes"]  # a named volume, not the container's layer
    assert redis["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]


def test_the_service_gets_its_keys_from_the_env_file_and_redis_by_name(compose):
    service = compose["services"]["wayfinder"]
    env_files = service["env_file"] if isinstance(service["env_file"], list) else [service["env_file"]]
    assert ".env" in env_files
    url = service["environment"]["WAYFINDER_REDIS_URL"]
    assert url.startswith("redis://") and url.split("//")[1].split(":")[0] in compose["services"]
    assert "8000:8000" in service["ports"]
    assert service["depends_on"]["redis"]["condition"] == "service_healthy"
    assert service["depends_on"]["init"]["condition"] == "service_completed_successfully"
    assert "/healthz" in " ".join(service["healthcheck"]["test"])


def test_the_retrain_job_runs_daily_on_the_service_s_data_and_registry(compose):
    retrain, service = compose["services"]["retrain"], compose["services"]["wayfinder"]
    command = command_text(retrain)
    assert "python -m training retrain" in command and "sleep 86400" in command
    assert retrain["depends_on"]["init"]["condition"] == "service_completed_successfully"
    data_dir = dockerfile_env()["WAYFINDER_DATA_DIR"]
    assert dockerfile_env()["WAYFINDER_REGISTRY"].startswith(data_dir + "/")  # the registry is on the data volume
    for name in ("wayfinder", "retrain", "init"):
        sources = [v.split(":")[0] for v in compose["services"][name]["volumes"] if v.split(":")[1] == data_dir]
        assert sources and sources[0] in compose["volumes"], name  # a named volume at the data dir
    assert service["volumes"] == retrain["volumes"] == compose["services"]["init"]["volumes"]


def test_the_init_step_runs_once_and_the_image_is_built_once(compose):
    init = compose["services"]["init"]
    assert init["restart"] == "no" and "python -m training" in command_text(init)
    built = services_built_here(compose)
    assert set(built) == {"init", "wayfinder", "retrain"}
    assert {s["build"] for s in built.values()} == {"."} and (ROOT / "Dockerfile").exists()
    assert len({s["image"] for s in built.values()}) == 1  # one image, tagged once, run three ways
    for name, service in compose["services"].items():
        assert "image" in service, name


def test_every_variable_set_is_a_setting():
    named = set()
    compose_text = (ROOT / "docker-compose.yml").read_text()
    named |= set(re.findall(r"\bWAYFINDER_[A-Z_]+", compose_text))
    named |= {line.split("=", 1)[0] for line in (ROOT / ".env.example").read_text().splitlines() if "=" in line[:60]}
    named |= set(dockerfile_env())
    named = {name for name in named if name.startswith("WAYFINDER_")}
    assert {"WAYFINDER_ADMIN_KEY", "WAYFINDER_PUBLIC_KEY", "WAYFINDER_REDIS_URL"} <= named
    assert named <= SETTINGS, named - SETTINGS


def test_the_env_file_is_git_ignored_and_its_example_is_not():
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert ".env" in ignored and ".env.example" not in ignored
    assert ".env" in (ROOT / ".dockerignore").read_text().splitlines()  # never sent into an image


def test_a_compose_cli_accepts_the_file(tmp_path):
    cli = compose_cli()
    if cli is None:
        pytest.skip("no compose CLI (`docker compose` or `docker-compose`) on this machine")
    shutil.copy(ROOT / "docker-compose.yml", tmp_path / "docker-compose.yml")
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")  # .env is the user's, and git-ignored
    checked = subprocess.run([*cli, "config", "-q"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stderr


def test_the_image_copies_every_package_the_service_and_the_training_job_import():
    copied = {
        src.split("/")[0] for line in dockerfile_lines() if line.startswith("COPY ") for src in line.split()[1:-1]
    }
    needed = local_packages_imported_from({"service", "training"})
    assert {"service", "training", "models", "journal", "config"} <= needed
    assert needed <= copied, needed - copied
    assert "deploy" in copied and "requirements.txt" in copied


def test_the_entrypoint_is_valid_sh_and_finds_the_model_the_image_trains():
    assert subprocess.run(["sh", "-n", str(ROOT / "deploy" / "entrypoint.sh")]).returncode == 0
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert f"--registry {DEMO_REGISTRY}" in dockerfile and "python -m training train" in dockerfile
    assert f"DEMO_REGISTRY:-{DEMO_REGISTRY}}}" in (ROOT / "deploy" / "entrypoint.sh").read_text()
    assert 'ENTRYPOINT ["sh", "/app/deploy/entrypoint.sh"]' in dockerfile


def test_the_entrypoint_seeds_an_empty_registry_with_the_demo_model_then_runs_the_command(
    trained_registry, journey, tmp_path
):
    demo = Registry(trained_registry).current()
    registry = tmp_path / "data" / "registry"
    ran = entrypoint(trained_registry, registry, "echo", "ran")
    assert ran.returncode == 0 and ran.stdout == "ran\n", ran.stderr
    assert Registry(registry).current() == demo and f"demo model {demo}" in ran.stderr
    assert ModelBundle.load(Registry(registry).path(demo), journey).version == demo
    assert not [p.name for p in registry.iterdir() if p.name.startswith(".")]  # no half-copied leftovers


def test_the_entrypoint_leaves_a_registry_with_a_current_model_alone(trained_registry, tmp_path):
    registry = tmp_path / "registry"
    registry.mkdir()
    (registry / "CURRENT").write_text("20250101T000000Z-abcdef\n")
    ran = entrypoint(trained_registry, registry, "true")
    assert ran.returncode == 0 and ran.stderr == ""
    assert sorted(p.name for p in registry.iterdir()) == ["CURRENT"]
    assert (registry / "CURRENT").read_text() == "20250101T000000Z-abcdef\n"


def entrypoint(demo: Path, registry: Path, *command: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "WAYFINDER_REGISTRY": str(registry), "DEMO_REGISTRY": str(demo)}
    script = ROOT / "deploy" / "entrypoint.sh"
    return subprocess.run(["sh", str(script), *command], env=environment, capture_output=True, text=True, timeout=60)


def compose_cli() -> list[str] | None:
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30)
        if probe.returncode == 0:
            return ["docker", "compose"]
    return ["docker-compose"] if shutil.which("docker-compose") else None


def dockerfile_lines() -> list[str]:
    """The Dockerfile's instructions, continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def dockerfile_env() -> dict[str, str]:
    found = {}
    for line in dockerfile_lines():
        if line.startswith("ENV "):
            found.update(pair.split("=", 1) for pair in line.split()[1:])
    return found


def local_packages_imported_from(roots: set[str]) -> set[str]:
    """The repository's top-level packages that `roots` import, directly or through each other."""
    seen, todo = set(), list(roots)
    while todo:
        package = todo.pop()
        if package in seen:
            continue
        seen.add(package)
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                names = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                for name in names:
                    top = name.split(".")[0]
                    if (ROOT / top / "__init__.py").exists() and top not in seen:
                        todo.append(top)
    return seen
