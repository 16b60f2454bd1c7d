"""The compose files are validated (there is no Docker engine here): against the compose
schema, every command they run is a real command of the project, every service, volume and
setting they name exists, and every setting they use is documented in the README."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from videogen.cli import COMMANDS, build_parser
from videogen.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
FILES = ("docker-compose.yml", "docker-compose.single.yml")


def load(name: str) -> dict:
    return YAML(typ="safe").load((ROOT / name).read_text())


@pytest.mark.parametrize("name", FILES)
def test_compose_file_matches_the_compose_schema(name):
    exe = shutil.which("check-jsonschema") or str(Path(sys.executable).parent / "check-jsonschema")
    r = subprocess.run([exe, "--builtin-schema", "vendor.compose-spec", str(ROOT / name)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("name", FILES)
def test_compose_runs_real_entry_points(name):
    compose = load(name)
    services = compose["services"]
    assert {"redis", "api", "worker"} <= set(services)
    assert "videogen-data" in compose["volumes"]
    entry = (ROOT / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["videogen"]' in entry
    parser = build_parser()
    for svc_name in ("api", "worker"):
        svc = services[svc_name]
        assert any(v.startswith("videogen-data:") for v in svc["volumes"])
        args = parser.parse_args(svc["command"])  # fails (SystemExit) on an unknown command or flag
        assert args.command in COMMANDS
        hc = svc["healthcheck"]["test"]
        assert hc[:2] == ["CMD", "videogen"] and hc[2] in COMMANDS
        assert svc["environment"]["VIDEOGEN_BROKER_URL"].startswith("redis://redis:")
    # Scaling workers needs no fixed name or port on the worker service.
    assert "container_name" not in services["worker"] and "ports" not in services["worker"]


@pytest.mark.parametrize("name", FILES)
def test_compose_references_only_what_it_defines(name):
    compose = load(name)
    services = compose["services"]
    volumes = set(compose.get("volumes") or {})
    for svc_name, svc in services.items():
        deps = svc.get("depends_on") or {}
        assert isinstance(deps, dict), f"{svc_name}: depends_on with conditions"
        for dep, cond in deps.items():
            assert dep in services, f"{svc_name} depends on undefined {dep}"
            assert cond["condition"] in ("service_started", "service_healthy", "service_completed_successfully")
            if cond["condition"] == "service_healthy":
                assert "healthcheck" in services[dep], f"{svc_name} waits for {dep} to be healthy; it has no healthcheck"
        for v in svc.get("volumes") or []:
            source = v.split(":", 1)[0]
            if not source.startswith((".", "/")):
                assert source in volumes, f"{svc_name} mounts undefined volume {source}"
        # Every VIDEOGEN_* setting is a real setting.
        env = svc.get("environment") or {}
        for key in env if isinstance(env, dict) else []:
            if key.startswith("VIDEOGEN_"):
                assert key[len("VIDEOGEN_"):].lower() in Settings.model_fields, f"{svc_name}: unknown setting {key}"
    long_running = [n for n, s in services.items() if s.get("restart") != "no"]
    for n in long_running:
        assert "healthcheck" in services[n], f"{n} has no healthcheck"


def test_production_shape():
    compose = load("docker-compose.yml")
    services = compose["services"]
    assert {"redis", "postgres", "minio", "createbucket", "api", "worker", "flower"} <= set(services)
    env = services["worker"]["environment"]
    assert env["VIDEOGEN_DATABASE_URL"].startswith("postgresql+psycopg://") and "@postgres:5432/" in env["VIDEOGEN_DATABASE_URL"]
    assert env["VIDEOGEN_STORAGE_URL"].startswith("s3://") and env["VIDEOGEN_S3_ENDPOINT_URL"].endswith("minio:9000}")
    for svc in ("api", "worker"):
        deps = services[svc]["depends_on"]
        assert deps["postgres"]["condition"] == "service_healthy"
        assert deps["createbucket"]["condition"] == "service_completed_successfully"
    assert services["createbucket"]["depends_on"]["minio"]["condition"] == "service_healthy"
    assert "mc mb" in " ".join(services["createbucket"]["command"])
    flower = services["flower"]
    assert flower["profiles"] == ["monitoring"]
    assert flower["entrypoint"][:4] == ["celery", "-A", "workers.celery_app", "flower"]
    assert services["api"]["build"]["args"]["EXTRAS"] == "[monitoring]"
    assert 'ARG EXTRAS' in (ROOT / "Dockerfile").read_text()
    # The single-machine file keeps the default: no PostgreSQL, no object storage.
    single = load("docker-compose.single.yml")
    assert "postgres" not in single["services"] and "VIDEOGEN_STORAGE_URL" not in single["services"]["worker"]["environment"]


def test_every_setting_used_by_compose_is_documented():
    readme = (ROOT / "README.md").read_text()
    used = set()
    for name in FILES:
        used |= set(re.findall(r"\b(VIDEOGEN_[A-Z0-9_]+)", (ROOT / name).read_text()))
    missing = sorted(k for k in used if k not in readme)
    assert not missing, f"settings used in compose files but not in the README: {missing}"
