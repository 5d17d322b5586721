"""Starts `strongroom dev` (the real binary) for the compatibility tests."""

import os
import signal
import subprocess
import tempfile
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

ROOT = Path(__file__).resolve().parents[2]


def strongroom_bin() -> str:
    path = os.environ.get("STRONGROOM_BIN", str(ROOT / "target" / "debug" / "strongroom"))
    if not Path(path).exists():
        raise RuntimeError(f"{path} not found: build it with `cargo build -p strongroom-cli` first")
    return path


class DevServer:
    """One `strongroom dev` process in a temporary data directory."""

    def __init__(self, *extra_args: str, data_dir=None, stderr=subprocess.DEVNULL):
        self.dir = data_dir or tempfile.TemporaryDirectory(prefix="strongroom-compat-")
        # Each server its own admin port: the default (4567) would collide.
        admin = [] if "--admin-listen" in extra_args else ["--admin-listen", "127.0.0.1:0"]
        self.proc = subprocess.Popen(
            [strongroom_bin(), "dev", "--data-dir", self.dir.name, "--listen", "127.0.0.1:0", *admin, *extra_args],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
        self.env = {}
        self.admin = None
        tls = "--tls" in extra_args
        for line in self.proc.stdout:
            if line.startswith("admin: "):
                self.admin = line.split()[1]
            if line.startswith("export "):
                key, _, value = line[len("export "):].strip().partition("=")
                self.env[key] = value
            if "AWS_SECRET_ACCESS_KEY" in self.env and (not tls or "AWS_CA_BUNDLE" in self.env):
                break
        if "AWS_ENDPOINT_URL_KMS" not in self.env:
            self.stop()
            raise RuntimeError("strongroom dev did not print its endpoint")

    @property
    def endpoint(self) -> str:
        return self.env["AWS_ENDPOINT_URL_KMS"]

    def client(self, **config):
        return boto3.client(
            "kms",
            endpoint_url=self.endpoint,
            region_name=self.env["AWS_REGION"],
            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"],
            verify=self.env.get("AWS_CA_BUNDLE", True),
            config=Config(retries={"max_attempts": 1}, **config),
        )

    def process_env(self) -> dict:
        """The environment a child process (aws CLI, SDK) should run with."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(self.env)
        return env

    def kill(self):
        """SIGKILL: no shutdown code runs."""
        self.proc.kill()
        self.proc.wait()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.dir.cleanup()


@pytest.fixture(scope="session")
def server():
    s = DevServer()
    yield s
    s.stop()


@pytest.fixture(scope="session")
def tls_server():
    s = DevServer("--tls")
    yield s
    s.stop()


@pytest.fixture()
def kms(server):
    return server.client()


@pytest.fixture()
def key_arn(kms):
    return kms.create_key(Description="compat")["KeyMetadata"]["Arn"]
