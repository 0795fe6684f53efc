"""Hosts on one machine: a network namespace each, joined by a bridge, reached by IP alone.

A :class:`Network` is a bridge in the root namespace (``10.88.<n>.1/24``) and, for each
:meth:`Network.add_host`, a network namespace with one veth link to the bridge
(``10.88.<n>.<i>/24``) and a loopback of its own. Nothing else joins the namespaces: a process
on one host reaches another only at that host's address, and its 127.0.0.1 is its own. Each
host has its own home folder (``HOME``, ``TMPDIR`` and whatever the caller points there),
its own hostname (every process gets a UTS namespace whose hostname is set before the command
runs, so that records of where something ran name the host) and an ``/etc/hosts`` naming
itself, as a container would. The test process itself stays in the root namespace and
reaches the hosts through the bridge's address, like a client outside the cluster.

Names carry the pid of the process that made them (namespaces ``olh<pid>-<host>``, bridge
``olb<pid>``, links ``olv<pid>x<i>``, folders ``/tmp/olh<pid>-*``): :func:`remove_stale`
deletes those whose process is gone, so that a crashed run never breaks the next, and a
subnet in use is never chosen again, so that two runs at once do not collide.

Needs root (``ip netns``), ``unshare`` and ``runuser`` (util-linux).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

#: The virtualenv's scripts (``online-learning``, ``prefect``, ``dask``, ``mlflow``): the
#: interpreter running the tests is the one every host runs, as one image would hold it.
VENV_BIN = Path(sys.prefix) / "bin"
_SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_NETNS_ETC = Path("/etc/netns")
_NAMESPACE = re.compile(r"^olh(\d+)-")
_LINK = re.compile(r"^ol[bv](\d+)(x\d+)?$")
_FOLDER = re.compile(r"^olh(\d+)-")


class HostError(RuntimeError):
    """A namespace, a link or a process of a host could not be set up."""


def _ip(*args: str) -> str:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        raise HostError(f"ip {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def _namespaces() -> list[str]:
    return [line.split()[0] for line in _ip("netns", "list").splitlines() if line.strip()]


def _links() -> list[str]:
    names = []
    for line in _ip("-o", "link", "show").splitlines():
        name = line.split(":", 2)[1].strip().split("@", 1)[0]
        names.append(name)
    return names


def _kill_namespace(namespace: str) -> None:
    """SIGKILL every process left in ``namespace`` (started there by this module)."""
    try:
        pids = [int(p) for p in _ip("netns", "pids", namespace).split()]
    except HostError:
        return
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def remove_stale() -> list[str]:
    """Delete the namespaces, links and folders of runs whose process no longer exists
    (a crashed or killed test run); return what was removed."""
    removed = []
    for namespace in _namespaces():
        match = _NAMESPACE.match(namespace)
        if match and not _alive(int(match[1])):
            _kill_namespace(namespace)
            subprocess.run(["ip", "netns", "delete", namespace], capture_output=True, check=False)
            shutil.rmtree(_NETNS_ETC / namespace, ignore_errors=True)
            removed.append(namespace)
    for link in _links():
        match = _LINK.match(link)
        if match and not _alive(int(match[1])):
            subprocess.run(["ip", "link", "delete", link], capture_output=True, check=False)
            removed.append(link)
    for folder in Path(tempfile.gettempdir()).iterdir():
        match = _FOLDER.match(folder.name)
        if match and folder.is_dir() and not _alive(int(match[1])):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(str(folder))
    return removed


def _free_subnet() -> str:
    """``10.88.<n>``, the first whose /24 no interface of this machine has an address in."""
    used = set(re.findall(r"inet 10\.88\.(\d+)\.", _ip("-o", "-4", "addr", "show")))
    for n in range(256):
        if str(n) not in used:
            return f"10.88.{n}"
    raise HostError("no free 10.88.<n>.0/24 subnet left")


def tail_of(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return f"--- {path}: (no log)"
    return f"--- last {len(text)} lines of {path}:\n" + "\n".join(text)


@dataclass
class HostProcess:
    """A command running on a host; its output (stdout and stderr) goes to ``log_path``."""

    host: Host
    label: str
    argv: list[str]
    log_path: Path
    popen: subprocess.Popen

    @property
    def name(self) -> str:
        return f"{self.host.name}/{self.label}"

    @property
    def running(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 40) -> str:
        state = "running" if self.running else f"exited with code {self.popen.returncode}"
        return f"{self.name} ({state}): {' '.join(self.argv)}\n{tail_of(self.log_path, lines)}"

    def wait(self, timeout_s: float) -> int:
        try:
            return self.popen.wait(timeout_s)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"{self.name} still runs after {timeout_s:g} s\n{self.tail()}"
            ) from None

    def send(self, sig: int) -> None:
        """Send ``sig`` to the process group (the command and the children it started)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, sig)

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 30.0) -> int:
        """``sig`` to the group, SIGKILL after ``timeout_s``; the exit code."""
        if self.running:
            self.send(sig)
            try:
                self.popen.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.send(signal.SIGKILL)
                self.popen.wait(10)
        # The group may outlive its leader (a worker's children): they go with it.
        self.send(signal.SIGKILL)
        return self.popen.returncode


@dataclass
class Host:
    """One namespace on the bridge: ``name``, ``ip``, a ``home`` of its own."""

    network: Network
    name: str
    ip: str
    index: int
    home: Path
    processes: list[HostProcess] = field(default_factory=list)

    @property
    def namespace(self) -> str:
        return f"olh{self.network.pid}-{self.name}"

    def environment(self, env: dict[str, str] | None = None) -> dict[str, str]:
        """What a container of this host would get: no variable of the test process, the
        virtualenv on ``PATH``, ``HOME`` and ``TMPDIR`` in the host's home, then ``env``."""
        base = {
            "PATH": f"{VENV_BIN}:{_SYSTEM_PATH}",
            "LANG": "C.UTF-8",
            "HOME": str(self.home),
            "TMPDIR": str(self.home / "tmp"),
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        return {**base, **(env or {})}

    def command(self, argv: list[str], *, user: str | None = None) -> list[str]:
        """``argv`` in this host's namespace, with its hostname (and as ``user``)."""
        inner = argv if user is None else ["runuser", "-u", user, "--", *argv]
        return [
            "ip", "netns", "exec", self.namespace,
            "unshare", "--uts", "sh", "-c", 'hostname "$0" && exec "$@"', self.name, *inner,
        ]  # fmt: skip

    def _log(self, label: str) -> Path:
        return self.network.logs / f"{self.name}.{label}.log"

    def start(
        self,
        label: str,
        argv: list[str],
        *,
        env: dict[str, str] | None = None,
        user: str | None = None,
        cwd: Path | None = None,
    ) -> HostProcess:
        """Start ``argv`` on this host in the background (log ``<host>.<label>.log``)."""
        log_path = self._log(label)
        with open(log_path, "ab") as log:
            log.write(f"$ {' '.join(argv)}\n".encode())
            log.flush()
            popen = subprocess.Popen(
                self.command(argv, user=user),
                env=self.environment(env),
                cwd=cwd or self.home,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        process = HostProcess(self, label, list(argv), log_path, popen)
        self.processes.append(process)
        self.network.processes.append(process)
        return process

    def run(
        self,
        label: str,
        argv: list[str],
        *,
        env: dict[str, str] | None = None,
        user: str | None = None,
        cwd: Path | None = None,
        timeout_s: float = 300.0,
        check: bool = True,
    ) -> HostProcess:
        """Run ``argv`` on this host to its end; with ``check``, a non-zero exit fails with
        the end of its log."""
        process = self.start(label, argv, env=env, user=user, cwd=cwd)
        try:
            code = process.popen.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.stop(signal.SIGKILL, 5)
            raise AssertionError(f"{process.name} timed out after {timeout_s:g} s\n"
                                 f"{process.tail()}") from None  # fmt: skip
        if check and code != 0:
            raise AssertionError(f"{process.name} failed with code {code}\n{process.tail()}")
        return process

    def accepts(self, port: int) -> bool:
        """Whether ``ip:port`` takes a TCP connection (from the root namespace, over the link)."""
        try:
            with socket.create_connection((self.ip, port), timeout=1.0):
                return True
        except OSError:
            return False

    def wait_port(self, port: int, process: HostProcess, timeout_s: float = 120.0) -> None:
        """Wait until ``process`` listens on ``ip:port``; fail with its log if it exits or
        takes longer than ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while not self.accepts(port):
            if not process.running:
                raise AssertionError(f"{process.name} exited before listening on "
                                     f"{self.ip}:{port}\n{process.tail()}")  # fmt: skip
            if time.monotonic() > deadline:
                raise AssertionError(f"{process.name} not listening on {self.ip}:{port} after "
                                     f"{timeout_s:g} s\n{process.tail()}")  # fmt: skip
            time.sleep(0.2)

    def tail(self, lines: int = 40) -> str:
        return "\n".join(p.tail(lines) for p in self.processes) or f"{self.name}: no process"


class Network:
    """A bridge and its hosts; :meth:`close` stops and deletes everything it made.

    ``root`` holds ``logs/`` (every process's output) and ``hosts/<name>/`` (each host's home,
    unless the host runs as another user: then a folder of its own under the system's
    temporary directory, since the test's folders are root's alone).
    """

    def __init__(self, root: Path) -> None:
        self.pid = os.getpid()
        self.root = root
        self.logs = root / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.hosts: dict[str, Host] = {}
        self.processes: list[HostProcess] = []
        self._folders: list[Path] = []
        self.bridge = f"olb{self.pid}"
        if self.bridge in _links():
            raise HostError(f"{self.bridge} exists already: one Network per process")
        self.subnet = _free_subnet()
        self.gateway = f"{self.subnet}.1"
        _ip("link", "add", self.bridge, "type", "bridge")
        try:
            _ip("addr", "add", f"{self.gateway}/24", "dev", self.bridge)
            _ip("link", "set", self.bridge, "up")
        except HostError:
            self.close()
            raise

    def add_host(self, name: str, *, owner: str | None = None) -> Host:
        """A new namespace ``name`` at the next address, with a home folder (owned by
        ``owner`` when given)."""
        if name in self.hosts:
            raise HostError(f"host {name!r} exists already")
        index = len(self.hosts) + 2
        if owner is None:
            home = self.root / "hosts" / name
            home.mkdir(parents=True)
        else:
            home = Path(tempfile.mkdtemp(prefix=f"olh{self.pid}-{name}-"))
            shutil.chown(home, owner, owner)
            self._folders.append(home)
        (home / "tmp").mkdir(exist_ok=True)
        if owner is not None:
            shutil.chown(home / "tmp", owner, owner)
        host = Host(self, name, f"{self.subnet}.{index}", index, home)
        self.hosts[name] = host
        namespace, link = host.namespace, f"olv{self.pid}x{index}"
        etc = _NETNS_ETC / namespace
        etc.mkdir(parents=True, exist_ok=True)
        (etc / "hosts").write_text(f"127.0.0.1\tlocalhost\n{host.ip}\t{name}\n")
        _ip("netns", "add", namespace)
        _ip("link", "add", link, "type", "veth", "peer", "name", "eth0", "netns", namespace)
        _ip("link", "set", link, "master", self.bridge, "up")
        _ip("-n", namespace, "addr", "add", f"{host.ip}/24", "dev", "eth0")
        _ip("-n", namespace, "link", "set", "eth0", "up")
        _ip("-n", namespace, "link", "set", "lo", "up")
        return host

    def tails(self, lines: int = 30) -> str:
        return "\n".join(p.tail(lines) for p in self.processes)

    def close(self) -> None:
        """Stop every process (the last started first), then delete the namespaces, the
        bridge and the folders outside ``root``. Safe to call twice."""
        for process in reversed(self.processes):
            try:
                process.stop(timeout_s=10)
            except Exception as exc:  # cleaning up: the rest must go too
                print(f"could not stop {process.name}: {exc}", file=sys.stderr)
        for host in self.hosts.values():
            _kill_namespace(host.namespace)
            subprocess.run(["ip", "netns", "delete", host.namespace], capture_output=True,
                           check=False)  # fmt: skip
            shutil.rmtree(_NETNS_ETC / host.namespace, ignore_errors=True)
        subprocess.run(["ip", "link", "delete", self.bridge], capture_output=True, check=False)
        for folder in self._folders:
            shutil.rmtree(folder, ignore_errors=True)
        self.hosts.clear()
