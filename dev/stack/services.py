"""Start, health-check and describe the local services.

Used three ways: `make stack` (detached, survives the shell), the test suite (children of pytest),
and the demo / benchmark. Every consumer gets the same URLs, credentials and Airflow connections.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import requests

REPO_ROOT = Path(__file__).resolve().parents[2]

DEFAULT_S3_PORT = 8600
DEFAULT_CARCUTTER_PORT = 8601
DEFAULT_CLIPPINGMAGIC_PORT = 8602
DEFAULT_BUCKET = "vehicle-photos"
LOCAL_AWS_KEY = "testing"
LOCAL_AWS_SECRET = "testing"
LOCAL_REGION = "us-east-1"
LOCAL_CARCUTTER_TOKEN = "local-carcutter-token"
LOCAL_CLIPPINGMAGIC_ID = "12345"
LOCAL_CLIPPINGMAGIC_KEY = "local-clippingmagic-key"
# Airflow's Fernet key on the local stack: image records keep exact submitted URLs sealed with it. A fixed,
# public key is fine for local data only; a deployment sets its own secret one.
LOCAL_FERNET_KEY = "VQNwW7NJCGRIsl0KOsk_g_mYjOStknOCgmWcrwlNg0g="


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class StackSettings:
    """Where the services listen and what they are started with. Ports of 0 pick free ones."""

    host: str = "127.0.0.1"
    s3_port: int = DEFAULT_S3_PORT
    carcutter_port: int = DEFAULT_CARCUTTER_PORT
    clippingmagic_port: int = DEFAULT_CLIPPINGMAGIC_PORT
    bucket: str = DEFAULT_BUCKET
    carcutter_args: list[str] = field(default_factory=list)
    clippingmagic_args: list[str] = field(default_factory=list)
    log_dir: Path | None = None
    versioned_bucket: bool = False  # S3 versioning on the bucket: Car-Cutter is sent pinned versions, not copies

    @classmethod
    def from_env(cls) -> StackSettings:
        return cls(
            s3_port=int(os.environ.get("STACK_S3_PORT", DEFAULT_S3_PORT)),
            carcutter_port=int(os.environ.get("STACK_CARCUTTER_PORT", DEFAULT_CARCUTTER_PORT)),
            clippingmagic_port=int(os.environ.get("STACK_CLIPPINGMAGIC_PORT", DEFAULT_CLIPPINGMAGIC_PORT)),
            bucket=os.environ.get("STACK_BUCKET", DEFAULT_BUCKET),
        )

    def resolved(self) -> StackSettings:
        return StackSettings(
            host=self.host,
            s3_port=self.s3_port or free_port(),
            carcutter_port=self.carcutter_port or free_port(),
            clippingmagic_port=self.clippingmagic_port or free_port(),
            bucket=self.bucket,
            carcutter_args=list(self.carcutter_args),
            clippingmagic_args=list(self.clippingmagic_args),
            log_dir=self.log_dir,
            versioned_bucket=self.versioned_bucket,
        )


@dataclass
class LocalStack:
    """A running stack: URLs, credentials, the processes, and the environment that points Airflow at it."""

    settings: StackSettings
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def s3_url(self) -> str:
        return f"http://{self.settings.host}:{self.settings.s3_port}"

    @property
    def carcutter_url(self) -> str:
        return f"http://{self.settings.host}:{self.settings.carcutter_port}"

    @property
    def clippingmagic_url(self) -> str:
        return f"http://{self.settings.host}:{self.settings.clippingmagic_port}"

    @property
    def bucket(self) -> str:
        return self.settings.bucket

    def environment(self) -> dict[str, str]:
        """Environment variables for Airflow, boto3 and our tools, as written to `.stack/env`."""
        aws = {
            "conn_type": "aws",
            "login": LOCAL_AWS_KEY,
            "password": LOCAL_AWS_SECRET,
            "extra": {"endpoint_url": self.s3_url, "region_name": LOCAL_REGION},
        }
        carcutter = {"conn_type": "carcutter", "host": self.carcutter_url, "password": LOCAL_CARCUTTER_TOKEN}
        clippingmagic = {
            "conn_type": "clippingmagic",
            "host": self.clippingmagic_url,
            "login": LOCAL_CLIPPINGMAGIC_ID,
            "password": LOCAL_CLIPPINGMAGIC_KEY,
        }
        return {
            "STACK_S3_URL": self.s3_url,
            "STACK_CARCUTTER_URL": self.carcutter_url,
            "STACK_CLIPPINGMAGIC_URL": self.clippingmagic_url,
            "STACK_BUCKET": self.bucket,
            "AWS_ACCESS_KEY_ID": LOCAL_AWS_KEY,
            "AWS_SECRET_ACCESS_KEY": LOCAL_AWS_SECRET,
            "AWS_DEFAULT_REGION": LOCAL_REGION,
            "AWS_ENDPOINT_URL_S3": self.s3_url,
            "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(aws),
            "AIRFLOW_CONN_CARCUTTER_DEFAULT": json.dumps(carcutter),
            "AIRFLOW_CONN_CLIPPINGMAGIC_DEFAULT": json.dumps(clippingmagic),
            "AIRFLOW_VAR_VEHICLE_PHOTOS_BUCKET": self.bucket,
            "AIRFLOW__CORE__FERNET_KEY": LOCAL_FERNET_KEY,
            # the local services listen on loopback: image URLs may point there (refused in production)
            "AIRFLOW_VAR_VEHICLE_PHOTOS_ALLOWED_NETWORKS": "127.0.0.1/32",
            # the stand-in processes an image in about 2 s; the real service takes far longer (default 30 s)
            "AIRFLOW_VAR_VEHICLE_PHOTOS_CARCUTTER_POLL_INTERVAL": "2",
            "AIRFLOW_VAR_VEHICLE_PHOTOS_CARCUTTER_FIRST_POLL_DELAY": "2",
            # and a small batch is finished within seconds: waited for in its task, without a deferral's round trip
            "AIRFLOW_VAR_VEHICLE_PHOTOS_CARCUTTER_WAIT_IN_TASK_SECONDS": "10",
            # sample data is written in one go: a listing prefix quiet for 2 s is complete
            "AIRFLOW_VAR_VEHICLE_PHOTOS_LISTINGS_QUIET_SECONDS": "2",
            "AIRFLOW_VAR_VEHICLE_PHOTOS_LISTINGS_POLL_SECONDS": "1",
            # the stand-ins know a submission as soon as they answer it (their lag knobs are off unless a billing
            # test turns them on, with its own grace): 10 s instead of a real service's 120
            "AIRFLOW_VAR_VEHICLE_PHOTOS_REGISTRATION_GRACE_SECONDS": "10",
        }

    def s3_client(self):
        return self._client("s3")

    def sqs_client(self):
        """moto's server answers SQS on the same endpoint (and delivers the buckets' notifications to it)."""
        return self._client("sqs")

    def _client(self, service: str):
        return boto3.client(
            service,
            endpoint_url=self.s3_url,
            aws_access_key_id=LOCAL_AWS_KEY,
            aws_secret_access_key=LOCAL_AWS_SECRET,
            region_name=LOCAL_REGION,
        )

    def stop(self) -> None:
        for process in self.processes.values():
            process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        self.processes.clear()


def service_commands(settings: StackSettings) -> dict[str, list[str]]:
    python = sys.executable
    host = settings.host
    return {
        "s3": [python, "-m", "dev.stack.moto_s3", "-H", host, "-p", str(settings.s3_port)],
        "carcutter": [
            python, "-m", "dev.standins.carcutter", "--host", host, "--port", str(settings.carcutter_port),
            "--token", LOCAL_CARCUTTER_TOKEN, *settings.carcutter_args,
        ],
        "clippingmagic": [
            python, "-m", "dev.standins.clippingmagic", "--host", host, "--port",
            str(settings.clippingmagic_port), "--api-id", LOCAL_CLIPPINGMAGIC_ID, "--api-key",
            LOCAL_CLIPPINGMAGIC_KEY, *settings.clippingmagic_args,
        ],
    }  # fmt: skip


def health_urls(stack: LocalStack) -> dict[str, str]:
    return {
        "s3": f"{stack.s3_url}/moto-api/",
        "carcutter": f"{stack.carcutter_url}/_emulator/health",
        "clippingmagic": f"{stack.clippingmagic_url}/_emulator/health",
    }


def wait_until_healthy(stack: LocalStack, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    pending = health_urls(stack)
    while pending:
        for name, url in list(pending.items()):
            process = stack.processes.get(name)
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"{name} exited with code {process.returncode} before it became healthy")
            try:
                if requests.get(url, timeout=2).ok:
                    del pending[name]
            except requests.RequestException:
                pass
        if pending and time.monotonic() > deadline:
            raise TimeoutError(f"services not healthy after {timeout:.0f}s: {', '.join(pending)}")
        if pending:
            time.sleep(0.2)


def start_stack(settings: StackSettings | None = None, detached: bool = False) -> LocalStack:
    """Start every service, wait until each answers, create the bucket. `detached` outlives the caller."""
    settings = (settings or StackSettings()).resolved()
    stack = LocalStack(settings)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "plugins")])}
    try:
        for name, command in service_commands(settings).items():
            log = _log_file(settings.log_dir, name)
            stack.processes[name] = subprocess.Popen(
                command,
                cwd=REPO_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=detached,
            )
        wait_until_healthy(stack)
        client = stack.s3_client()
        if settings.bucket not in {b["Name"] for b in client.list_buckets().get("Buckets", [])}:
            client.create_bucket(Bucket=settings.bucket)
        if settings.versioned_bucket:
            versioning = {"Status": "Enabled"}
            client.put_bucket_versioning(Bucket=settings.bucket, VersioningConfiguration=versioning)
    except BaseException:
        stack.stop()
        raise
    return stack


def _log_file(log_dir: Path | None, name: str):
    if log_dir is None:
        return subprocess.DEVNULL
    log_dir.mkdir(parents=True, exist_ok=True)
    return (log_dir / f"{name}.log").open("ab")
