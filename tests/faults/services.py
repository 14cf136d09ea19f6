"""Private PostgreSQL, Redis, app and Celery processes for the fault tests, and a payment
provider front that can be made to fail.

The fault tests stop Redis and restart PostgreSQL, so they never touch the services other
tests (or other people) use: every process here is started for this run, on free ports,
in a temporary directory, and killed at the end. The app runs under gunicorn with sync
workers, as in production, in its own process, and is driven over HTTP.

Every server is a direct child of the test process (PostgreSQL too: ``postgres`` itself,
not ``pg_ctl``, which would detach it), started through ``setpriv --pdeathsig KILL``: if
the test run is killed before its teardown, the kernel kills them with it, so nothing is
left listening on this machine.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
import requests

BASE_DIR = Path(__file__).resolve().parents[2]

# Settings of the app under test that must never come from the environment of the test run
# (which may point at the shared PostgreSQL and Redis): each is set for every process here.
PRIVATE_SETTINGS = (
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "CACHE_KEY_PREFIX",
    "CELERY_QUEUE",
    "VAR_DIR",
    "PUBLIC_BASE_URL",
    "WECHATPAY_BASE_URL",
    "ALIPAY_GATEWAY_URL",
    "WECHAT_API_BASE_URL",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(
    condition: Callable[[], Any], *, timeout: float, what: str | Callable[[], str], interval: float = 0.05
) -> Any:
    """Poll ``condition`` until it returns something truthy (returned) or ``timeout`` passes;
    ``what`` (or what it returns then: a log tail) goes in the failure's message."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what() if callable(what) else what}")
        time.sleep(interval)


def _tail(path: Path, lines: int = 60) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _child(command: list[str], *, as_postgres: bool = False) -> list[str]:
    """``command``, killed by the kernel when this process dies (if ``setpriv`` exists), and
    run as the ``postgres`` user when ``as_postgres`` and we are root (initdb and postgres
    refuse to run as root)."""
    prefix = ["setpriv", "--pdeathsig", "KILL"] if shutil.which("setpriv") else []
    if as_postgres and os.geteuid() == 0:
        prefix = [*prefix, "--reuid", "postgres", "--regid", "postgres", "--clear-groups"]
    return [*prefix, *command]


def _stop(
    process: subprocess.Popen | None, *, sig: int = signal.SIGTERM, timeout: float = 5, group: bool = True
) -> None:
    """Signal a process started with ``start_new_session`` (and its children, gunicorn's
    workers, unless ``group`` is False); kill it if it is not gone in ``timeout``."""
    if process is None:
        return
    if process.poll() is None:
        if group:
            os.killpg(process.pid, sig)
        else:
            process.send_signal(sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=timeout)
    if group:
        # The group's id stays taken while any member lives, so this reaches only ours.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    elif process.poll() is None:
        process.kill()
    process.wait(timeout=5)


# --- What this machine has ----------------------------------------------------------------


def postgres_bindir() -> Path | None:
    """The directory of ``initdb`` and ``postgres``: on the PATH, else Debian's newest."""
    found = shutil.which("initdb")
    if found and (Path(os.path.realpath(found)).parent / "postgres").exists():
        return Path(os.path.realpath(found)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(candidates[-1]).parent if candidates else None


def missing_binaries() -> str | None:
    """Why the fault tests cannot run here, or None."""
    if postgres_bindir() is None:
        return "PostgreSQL server binaries (initdb, postgres) not found"
    if shutil.which("redis-server") is None:
        return "redis-server not found"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no 'postgres' user to run PostgreSQL as"
        if shutil.which("setpriv") is None:
            return "running as root and setpriv (util-linux) is missing"
    return None


# --- PostgreSQL ---------------------------------------------------------------------------


class PrivatePostgres:
    """A throwaway cluster: trust authentication, no fsync, one port, its socket in its own
    directory. As root, initdb and the server run as the ``postgres`` user."""

    def __init__(self) -> None:
        self.bindir = postgres_bindir()
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="faults-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "postgres.log"
        self.process: subprocess.Popen | None = None
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.dir, owner.pw_uid, owner.pw_gid)

    def url(self, dbname: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{dbname}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def init(self) -> None:
        initdb = [str(self.bindir / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres"]
        initdb += ["-E", "UTF8", "--no-sync"]
        done = subprocess.run(  # noqa: S603 - fixed arguments
            _child(initdb, as_postgres=True), capture_output=True, text=True, timeout=60, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{done.stdout}{done.stderr}")
        self.start()

    def start(self) -> None:
        command = [str(self.bindir / "postgres"), "-D", str(self.data), "-p", str(self.port), "-k", str(self.dir)]
        command += ["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off"]
        command += ["-c", "full_page_writes=off"]
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - fixed arguments
                _child(command, as_postgres=True), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        wait_until(self._accepts, timeout=30, what=f"PostgreSQL on port {self.port}", interval=0.1)

    def _accepts(self) -> bool:
        if not self.running:
            raise AssertionError(f"PostgreSQL exited:\n{_tail(self.log)}")
        try:
            psycopg.connect(self.url(), connect_timeout=2).close()
        except psycopg.OperationalError:
            return False
        return True

    def stop(self, mode: str = "fast") -> None:
        """``fast`` (SIGINT): sessions are terminated, as a restart does to requests in
        flight; ``immediate`` (SIGQUIT): no shutdown checkpoint, as in a crash."""
        signals = {"smart": signal.SIGTERM, "fast": signal.SIGINT, "immediate": signal.SIGQUIT}
        # To the postmaster alone, which tells its backends: a SIGINT to a backend would
        # only cancel its query, not end the session as a shutdown does.
        _stop(self.process, sig=signals[mode], timeout=30, group=False)

    def restart(self) -> None:
        self.stop("fast")
        self.start()

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


# --- Redis --------------------------------------------------------------------------------


class PrivateRedis:
    """A redis-server without persistence, killed and started again on the same port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="faults-redis-"))
        self.log = self.dir / "redis.log"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        command += ["--daemonize", "no", "--dir", str(self.dir)]
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - fixed arguments
                _child(command), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        wait_until(self.answers, timeout=10, what=f"redis-server on port {self.port}")

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL: the process is gone at once, as in a crash."""
        _stop(self.process, sig=signal.SIGKILL)

    def destroy(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


# --- The app and its worker ---------------------------------------------------------------


def app_environment(*, database_url: str, redis_url: str, var_dir: Path, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in PRIVATE_SETTINGS}
    env.update(
        DJANGO_SETTINGS_MODULE="miniprogram_api.settings",
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        CELERY_BROKER_URL=redis_url,
        CACHE_KEY_PREFIX="faults",
        CELERY_QUEUE="faults",
        VAR_DIR=str(var_dir),
        DEBUG="false",
        LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


class PythonProcess:
    """``code`` in a fresh interpreter with Django set up against ``env``'s services; runs
    in the background until ``result()`` (its output) is asked for."""

    def __init__(self, code: str, env: dict[str, str]):
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter
            _child([sys.executable, "-c", "import django; django.setup()\n" + code]),
            cwd=BASE_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def result(self, timeout: float = 120) -> str:
        out, err = self.process.communicate(timeout=timeout)
        if self.process.returncode != 0:
            raise RuntimeError(f"python failed:\n{out}\n{err}")
        return out


class AppServer:
    """The API under gunicorn (sync workers, as in production) in its own process group."""

    def __init__(self, env: dict[str, str], *, workers: int = 4, name: str = "app") -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**env, "PUBLIC_BASE_URL": self.url}
        self.env.setdefault("WECHATPAY_BASE_URL", f"{self.url}/sandbox/wechatpay")
        self.env.setdefault("ALIPAY_GATEWAY_URL", f"{self.url}/sandbox/alipay/gateway.do")
        self.env.setdefault("WECHAT_API_BASE_URL", f"{self.url}/sandbox/wechat")
        self.workers = workers
        self.log = Path(env["VAR_DIR"]) / f"{name}.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        command = [sys.executable, "-m", "gunicorn", "miniprogram_api.wsgi", "--bind", f"127.0.0.1:{self.port}"]
        command += ["--workers", str(self.workers), "--timeout", "30", "--graceful-timeout", "2"]
        with open(self.log, "ab") as log:
            # Its workers follow a master that died: gunicorn workers exit when their parent changes.
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter, fixed arguments
                _child(command),
                cwd=BASE_DIR,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until(self._healthy, timeout=30, what=lambda: f"the app on {self.url}\n{_tail(self.log)}", interval=0.1)

    def _healthy(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"the app exited:\n{_tail(self.log)}")
        try:
            return requests.get(f"{self.url}/healthz", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def log_tail(self, lines: int = 80) -> str:
        return _tail(self.log, lines)

    def stop(self) -> None:
        _stop(self.process, sig=signal.SIGQUIT)  # gunicorn's quick shutdown: nothing to finish here


class CeleryWorker:
    """A worker and beat (two processes, as in production), their output kept in files a
    test can read."""

    def __init__(self, env: dict[str, str]) -> None:
        var_dir = Path(env["VAR_DIR"])
        self.env = env
        self.logs = [var_dir / "worker.log", var_dir / "beat.log"]
        self.schedule = var_dir / "celerybeat-schedule"
        self.processes: list[subprocess.Popen] = []

    def start(self) -> None:
        celery = [sys.executable, "-m", "celery", "-A", "miniprogram_api"]
        worker = [*celery, "worker", "--pool", "threads", "--concurrency", "2", "--loglevel", "INFO"]
        worker += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
        beat = [*celery, "beat", "--schedule", str(self.schedule), "--loglevel", "INFO"]
        for command, log_path in zip((worker, beat), self.logs, strict=True):
            with open(log_path, "ab") as log:
                self.processes.append(
                    subprocess.Popen(  # noqa: S603 - our own interpreter, fixed arguments
                        _child(command),
                        cwd=BASE_DIR,
                        env=self.env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
        wait_until(lambda: "ready." in self.output(), timeout=30, what=lambda: self.output()[-3000:], interval=0.1)

    def output(self) -> str:
        text = "\n".join(path.read_text(errors="replace") for path in self.logs if path.exists())
        if any(process.poll() is not None for process in self.processes):
            raise AssertionError(f"the worker or beat exited:\n{text[-3000:]}")
        return text

    def stop(self) -> None:
        # Killed: even a cold shutdown can wait seconds on a broker connection that was lost,
        # and nothing a test left running needs finishing.
        for process in self.processes:
            _stop(process, sig=signal.SIGKILL)


# --- A payment provider that fails on demand --------------------------------------------------


class ProviderFront:
    """Stands between the app and its WeChat Pay sandbox (``WECHATPAY_BASE_URL`` points here).

    ``mode`` says what the app's next calls meet: ``forward`` (the sandbox answers),
    ``system_error`` (the sandbox answers its signed 500 SYSTEM_ERROR, via its
    ``X-Sandbox-Fail`` knob), ``hang`` (the request is read and never answered: a timeout),
    ``answer_lost`` (the sandbox does the work but its answer never comes back: a timeout
    after the trade was created), ``unverifiable`` (a 200 without WeChat Pay's signature). ``after_create`` runs after a
    forwarded order creation came back and before the app gets the answer, with the
    trade's out_trade_no: to do something while the app's checkout is still waiting.
    """

    CREATE_PATH = "/v3/pay/transactions/jsapi"

    def __init__(self) -> None:
        self.target = ""  # the app's URL, set once it is known
        self.mode = "forward"
        self.after_create: Callable[[str], None] | None = None
        self.requests_seen: list[str] = []
        self._released = threading.Event()
        front = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                front._handle(self, b"")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                front._handle(self, self.rfile.read(length))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def reset(self) -> None:
        self._released.set()  # let go of anything still hanging
        self._released = threading.Event()
        self.mode = "forward"
        self.after_create = None
        self.requests_seen.clear()

    def _handle(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        path = handler.path  # /sandbox/wechatpay/v3/...
        self.requests_seen.append(f"{handler.command} {path}")
        mode = self.mode
        if mode == "hang":
            self._released.wait(timeout=60)
            handler.close_connection = True
            return
        if mode == "unverifiable":
            self._answer(handler, 200, {"Content-Type": "application/json"}, b'{"prepay_id":"wx-not-signed"}')
            return
        headers = {
            key: value
            for key, value in handler.headers.items()
            if key.lower() not in {"host", "content-length", "connection"}
        }
        if mode == "system_error":
            headers["X-Sandbox-Fail"] = "SYSTEM_ERROR"
        answer = requests.request(handler.command, self.target + path, data=body or None, headers=headers, timeout=30)
        if mode == "answer_lost":
            self._released.wait(timeout=60)
            handler.close_connection = True
            return
        if mode == "forward" and path.endswith(self.CREATE_PATH) and answer.ok and self.after_create is not None:
            self.after_create(json.loads(body)["out_trade_no"])
        hop = {"content-length", "connection", "transfer-encoding", "content-encoding"}
        kept = {key: value for key, value in answer.headers.items() if key.lower() not in hop}
        self._answer(handler, answer.status_code, kept, answer.content)

    @staticmethod
    def _answer(handler: BaseHTTPRequestHandler, status: int, headers: dict[str, str], body: bytes) -> None:
        handler.send_response(status)
        for key, value in headers.items():
            handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def close(self) -> None:
        self._released.set()
        self.server.shutdown()
        self.server.server_close()
