"""Fixtures for the SQS compatibility suite.

The suite drives the real `lull` binary with real AWS clients (boto3, aws-cli).
Which wire protocol is exercised depends on the botocore installed in the running
interpreter: current botocore speaks SQS JSON 1.0, botocore <= 1.31.x speaks the
query protocol. `scripts/pyenv.sh` builds one virtualenv for each; run the suite with
`.venvs/json/bin/python -m pytest tests/compat -q` and the same with `.venvs/query`.

Environment:
  LULL_BIN              binary to run (default $CARGO_TARGET_DIR or target: release/lull,
                        else debug/lull)
  LULL_COMPAT_ENDPOINT  use an already running server instead of starting one; the tests
                        that start, stop or kill servers are skipped then
"""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import boto3
import botocore
import pytest
import requests
from botocore.config import Config

from compat_util import REGION, unique

REPO = Path(__file__).resolve().parents[2]
READY_PREFIX = "lull listening on "
START_TIMEOUT = 30.0


# ---------------------------------------------------------------- protocol


def botocore_protocol() -> str:
    """The wire protocol the installed botocore uses for SQS ("json" or "query")."""
    client = boto3.client(
        "sqs",
        region_name=REGION,
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    return client.meta.service_model.protocol


PROTOCOL = botocore_protocol()


def pytest_report_header(config):
    return (
        f"lull compat: botocore {botocore.__version__} speaks the SQS {PROTOCOL} protocol; "
        f"boto3 {boto3.__version__}"
    )


def pytest_generate_tests(metafunc):
    # Every test that talks to SQS carries the protocol in its id, e.g. test_x[json].
    if "wire" in metafunc.fixturenames:
        metafunc.parametrize("wire", [PROTOCOL], ids=[PROTOCOL], scope="session")


@pytest.fixture(scope="session")
def wire(request) -> str:
    return request.param


# ---------------------------------------------------------------- servers


def lull_binary() -> Path:
    env = os.environ.get("LULL_BIN")
    if env:
        p = Path(env)
        return p if p.is_absolute() else REPO / p
    target = Path(os.environ.get("CARGO_TARGET_DIR", "target"))
    if not target.is_absolute():
        target = REPO / target
    release = target / "release" / "lull"
    if release.exists():
        return release
    return target / "debug" / "lull"


class LullServer:
    """One `lull serve` process on an ephemeral port."""

    def __init__(self, data_dir: Path, extra_args: list[str] | None = None):
        self.data_dir = Path(data_dir)
        self.extra_args = extra_args or []
        self.proc: subprocess.Popen | None = None
        self.endpoint: str | None = None
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}-{uuid.uuid4().hex[:6]}.log"

    def start(self) -> "LullServer":
        binary = lull_binary()
        if not binary.exists():
            pytest.skip(f"lull binary not built: {binary}")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [str(binary), "serve", "--listen", "127.0.0.1:0", "--data", str(self.data_dir)]
            + self.extra_args,
            stdout=subprocess.PIPE,
            stderr=log,
            stdin=subprocess.DEVNULL,
            cwd=str(self.data_dir.parent),
        )
        log.close()
        self.endpoint = self._read_ready_line()
        self._wait_healthy()
        return self

    def _read_ready_line(self) -> str:
        assert self.proc is not None and self.proc.stdout is not None
        lines: queue.Queue = queue.Queue()
        stdout = self.proc.stdout

        def pump():
            # Keep draining stdout so the server never blocks on a full pipe.
            for raw in iter(stdout.readline, b""):
                lines.put(raw.decode("utf-8", "replace").rstrip("\r\n"))
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        deadline = time.monotonic() + START_TIMEOUT
        seen = []
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=0.2)
            except queue.Empty:
                continue
            if line is None:
                break
            seen.append(line)
            if line.startswith(READY_PREFIX):
                return line[len(READY_PREFIX) :].strip().rstrip("/")
        self.kill()
        raise RuntimeError(
            f"lull did not print its ready line within {START_TIMEOUT}s; "
            f"stdout={seen!r}; stderr tail={self.stderr_tail()!r}"
        )

    def _wait_healthy(self):
        deadline = time.monotonic() + START_TIMEOUT
        last = None
        while time.monotonic() < deadline:
            try:
                r = requests.get(f"{self.endpoint}/healthz", timeout=2)
                if r.status_code == 200:
                    return
                last = r.status_code
            except requests.RequestException as e:  # still starting
                last = e
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"lull /healthz never answered 200: {last}")

    def stderr_tail(self, n: int = 4000) -> str:
        try:
            return self.log_path.read_bytes()[-n:].decode("utf-8", "replace")
        except OSError:
            return ""

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        """SIGKILL: no chance to flush anything."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM and wait; falls back to SIGKILL. Returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise RuntimeError(f"lull did not exit within {timeout}s of SIGTERM") from None
        return self.proc.returncode


@pytest.fixture(scope="session")
def external_endpoint() -> str | None:
    ep = os.environ.get("LULL_COMPAT_ENDPOINT")
    return ep.rstrip("/") if ep else None


@pytest.fixture(scope="session")
def server_factory(tmp_path_factory, external_endpoint):
    """Start extra servers, e.g. `server_factory(data_dir)`; all are killed at session end."""
    if external_endpoint:
        pytest.skip("LULL_COMPAT_ENDPOINT is set: this test needs to run its own servers")
    started: list[LullServer] = []

    def start(data_dir: Path | None = None, extra_args: list[str] | None = None) -> LullServer:
        if data_dir is None:
            data_dir = tmp_path_factory.mktemp("lull") / "data"
        srv = LullServer(data_dir, extra_args).start()
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.kill()


@pytest.fixture(scope="session")
def endpoint(external_endpoint):
    """Base URL of the shared server, e.g. http://127.0.0.1:40123."""
    if external_endpoint:
        yield external_endpoint
        return
    base = Path(tempfile.mkdtemp(prefix="lull-compat-"))
    srv = LullServer(base / "data").start()
    try:
        yield srv.endpoint
    finally:
        srv.kill()
        if not srv.alive():
            shutil.rmtree(base, ignore_errors=True)


# ---------------------------------------------------------------- clients


def make_client(endpoint: str, validate: bool = True, read_timeout: float = 60, **cfg):
    config = Config(
        region_name=REGION,
        retries={"max_attempts": 1, "mode": "standard"},
        connect_timeout=5,
        read_timeout=read_timeout,
        parameter_validation=validate,
        **cfg,
    )
    return boto3.client(
        "sqs",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="AKIDLULLTEST",
        aws_secret_access_key="lull-test-secret",
        config=config,
    )


@pytest.fixture(scope="session")
def sqs(endpoint, wire):
    client = make_client(endpoint)
    assert client.meta.service_model.protocol == wire
    return client


@pytest.fixture(scope="session")
def sqs_raw(endpoint, wire):
    """A client that skips botocore's own parameter validation (to send bad input)."""
    return make_client(endpoint, validate=False)


@pytest.fixture
def queue_name():
    return unique


@pytest.fixture
def make_queue(sqs):
    """Create a queue with a unique name; returns (url, name). Deleted after the test."""
    created: list[str] = []

    def create(prefix: str = "t", fifo: bool = False, attributes: dict | None = None, **kw):
        name = unique(prefix) + (".fifo" if fifo else "")
        attrs = dict(attributes or {})
        if fifo:
            attrs.setdefault("FifoQueue", "true")
        args = {"QueueName": name}
        if attrs:
            args["Attributes"] = attrs
        args.update(kw)
        url = sqs.create_queue(**args)["QueueUrl"]
        created.append(url)
        return url, name

    yield create
    for url in created:
        try:
            sqs.delete_queue(QueueUrl=url)
        except Exception:  # already deleted by the test
            pass


# ---------------------------------------------------------------- aws-cli


@pytest.fixture(scope="session")
def aws_cli(endpoint, tmp_path_factory):
    """Run `aws sqs ...` from this interpreter's awscli; returns the parsed JSON output."""
    import json

    home = tmp_path_factory.mktemp("awscli-home")
    env = dict(os.environ)
    env.update(
        {
            "AWS_ACCESS_KEY_ID": "AKIDLULLTEST",
            "AWS_SECRET_ACCESS_KEY": "lull-test-secret",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_CONFIG_FILE": str(home / "config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials"),
            "AWS_PAGER": "",
            "HOME": str(home),
        }
    )
    env.pop("AWS_PROFILE", None)

    def run(*args: str, check: bool = True):
        cmd = [sys.executable, "-m", "awscli", "--endpoint-url", endpoint, "--output", "json"]
        cmd += ["sqs", *args]
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
        if check and p.returncode != 0:
            raise AssertionError(f"{cmd} failed ({p.returncode}): {p.stderr}")
        out = p.stdout.strip()
        return (json.loads(out) if out else None), p

    return run


@pytest.fixture(scope="session")
def lull_endpoint(endpoint):
    """Alias of `endpoint` for suites that name it so (e.g. test_cli.py)."""
    return endpoint
