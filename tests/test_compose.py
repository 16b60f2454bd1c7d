"""docker-compose.yml is validated (there is no Docker engine here): against the compose
schema, and every command it runs must be a real command of the project."""

import shutil
import subprocess
import sys
from pathlib import Path

from ruamel.yaml import YAML

from videogen.cli import COMMANDS, build_parser

ROOT = Path(__file__).resolve().parent.parent


def test_compose_file_matches_the_compose_schema():
    exe = shutil.which("check-jsonschema") or str(Path(sys.executable).parent / "check-jsonschema")
    r = subprocess.run([exe, "--builtin-schema", "vendor.compose-spec", str(ROOT / "docker-compose.yml")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_compose_runs_real_entry_points():
    compose = YAML(typ="safe").load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"redis", "api", "worker"} <= set(services)
    assert "videogen-data" in compose["volumes"]
    entry = (ROOT / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["videogen"]' in entry
    parser = build_parser()
    for name in ("api", "worker"):
        svc = services[name]
        assert any(v.startswith("videogen-data:") for v in svc["volumes"])
        args = parser.parse_args(svc["command"])  # fails (SystemExit) on an unknown command or flag
        assert args.command in COMMANDS
        hc = svc["healthcheck"]["test"]
        assert hc[:2] == ["CMD", "videogen"] and hc[2] in COMMANDS
        assert svc["environment"]["VIDEOGEN_BROKER_URL"].startswith("redis://redis:")
    # Scaling workers needs no fixed name or port on the worker service.
    assert "container_name" not in services["worker"] and "ports" not in services["worker"]
