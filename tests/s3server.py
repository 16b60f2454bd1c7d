"""A real S3-compatible server for tests: moto in server mode, run as its own process (the
code under test talks HTTP to it through boto3, exactly as it would to MinIO or AWS)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ACCESS_KEY, SECRET_KEY = "videogen-test", "videogen-test-secret"


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@dataclass
class S3Server:
    proc: subprocess.Popen
    host: str
    port: int
    log: Path

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def client(self):  # type: ignore[no-untyped-def]
        import boto3
        from botocore.config import Config

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1", aws_access_key_id=ACCESS_KEY,
                            aws_secret_access_key=SECRET_KEY, config=Config(s3={"addressing_style": "path"}))

    def create_bucket(self, name: str) -> str:
        self.client().create_bucket(Bucket=name)
        return name

    def env(self, bucket: str, prefix: str = "videos") -> dict[str, str]:
        """VIDEOGEN_* settings pointing a process at this server."""
        return {"VIDEOGEN_STORAGE_URL": f"s3://{bucket}/{prefix}", "VIDEOGEN_S3_ENDPOINT_URL": self.endpoint,
                "VIDEOGEN_S3_ACCESS_KEY_ID": ACCESS_KEY, "VIDEOGEN_S3_SECRET_ACCESS_KEY": SECRET_KEY}

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)


def start_s3_server(log_dir: Path, host: str = "127.0.0.1", port: int | None = None,
                    prefix: list[str] | None = None) -> S3Server:
    """Start ``moto_server`` on ``host:port`` and wait until it answers. ``prefix`` wraps the
    command (e.g. ``["ip", "netns", "exec", "ns"]``)."""
    port = port or _free_port(host)
    exe = Path(sys.executable).parent / "moto_server"
    exe = str(exe) if exe.exists() else (shutil.which("moto_server") or "moto_server")
    log = log_dir / f"moto-{port}.log"
    env = dict(os.environ, AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY)
    with open(log, "ab") as out:
        proc = subprocess.Popen([*(prefix or []), exe, "-H", host, "-p", str(port)], stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True, env=env)
    server = S3Server(proc, host, port, log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"moto_server exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return server
        except OSError:
            time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"moto_server did not start on {host}:{port}")
