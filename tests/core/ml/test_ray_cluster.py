"""``--ray HOST:PORT`` joins a running cluster: two Ray nodes of one CPU each, started on
this machine with the ``ray`` CLI as a user starts them on two machines (head, then a node
joining it). ``mer`` runs as its own process: a driver joins one cluster, and this pytest
process may hold the tests' local Ray. Never ``ray stop`` here: it ends every Ray of this
user on the machine; the cluster's processes are ended by their process groups."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import pytest

from mer_viewer.cli import main

from .test_ray import _same_run

RAY = Path(sys.executable).with_name("ray")
if not RAY.exists():
    RAY = Path(shutil.which("ray") or RAY)

pytestmark = pytest.mark.skipif(
    not RAY.exists(), reason="the `ray` command is not installed (pip install mer-viewer[cluster])")

REPO = Path(__file__).resolve().parents[3]
TRAIN = ["--model", "pointnet", "--epochs", "1", "--points", "256", "--batch-size", "4",
         "--workers", "1"]


def _free_ports(n: int) -> list[int]:
    with ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(n)]
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]


def _node_ports(ports: list[int]) -> list[str]:
    """One node's own ports (two nodes on one machine must not share any); workers take
    ports the OS picks."""
    names = ("--node-manager-port", "--object-manager-port", "--dashboard-agent-listen-port",
             "--dashboard-agent-grpc-port", "--runtime-env-agent-port", "--metrics-export-port")
    return [a for name, port in zip(names, ports) for a in (name, str(port))] + [
        "--min-worker-port", "0", "--max-worker-port", "0"]


class Cluster:
    """The ``ray start`` processes (each the leader of its process group) and their files."""

    def __init__(self):
        self.folder = Path(tempfile.mkdtemp(prefix="rc-", dir="/tmp"))  # short socket paths
        self.groups: list[int] = []
        self.ids: list[str] = []  # the nodes' ids, once started
        (self.folder / "home").mkdir()
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("RAY_ADDRESS", "RAY_AUTH"))}
        # a private home: no auth token of this user's other Rays, none left behind
        env.update(HOME=str(self.folder / "home"), RAY_USAGE_STATS_ENABLED="0",
                   XDG_CACHE_HOME=str(self.folder / "cache"), PYTHONPATH=str(REPO))
        self.env = env
        self.port, *ports = _free_ports(13)
        self.address = f"127.0.0.1:{self.port}"
        self._ports = ports

    def launch(self, *args: str) -> subprocess.Popen:
        """``ray ARGS`` in a process group of its own (kept: the processes of a node)."""
        proc = subprocess.Popen([str(RAY), *args], env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)
        self.groups.append(proc.pid)
        return proc

    @staticmethod
    def finish(proc: subprocess.Popen, timeout: float = 120) -> str:
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        assert proc.returncode == 0, f"{' '.join(proc.args)} failed:\n{out[-3000:]}"
        return out

    def ray(self, *args: str, timeout: float = 120) -> str:
        return self.finish(self.launch(*args), timeout)

    def start(self) -> None:
        """The head and a node joining it, started at once (the node waits for the head)."""
        common = ["--num-cpus", "1", "--object-store-memory", str(80 * 2**20),
                  "--temp-dir", str(self.folder / "ray"), "--disable-usage-stats",
                  "--log-style", "record"]
        head = self.launch("start", "--head", "--port", str(self.port),
                           "--include-dashboard=false", *_node_ports(self._ports[:6]), *common)
        node = self.launch("start", "--address", self.address, *_node_ports(self._ports[6:]),
                           *common)
        self.finish(head)
        self.finish(node)

    def nodes(self, n: int, timeout: float = 60) -> list[str]:
        """The ids of the cluster's ``n`` active nodes once ``ray status`` lists them."""
        deadline = time.monotonic() + timeout
        while True:
            out = self.ray("status", "--address", self.address, timeout=60)
            active = out.split("Active:", 1)[-1].split("Pending:", 1)[0]
            ids = re.findall(r"node_([0-9a-f]+)", active)
            if len(ids) >= n or time.monotonic() > deadline:
                return ids
            time.sleep(1)

    def stop(self) -> None:
        """End every process of the cluster (their groups), wait for them to go, remove
        its files."""
        for group in self.groups:
            try:
                os.killpg(group, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 20
        while self.alive() and time.monotonic() < deadline:
            time.sleep(0.2)
        shutil.rmtree(self.folder, ignore_errors=True)

    def alive(self) -> list[int]:
        """Processes left in the cluster's groups (zombies not counted)."""
        left = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z" and int(fields[2]) in self.groups:
                left.append(int(stat.parent.name))
        return left


@pytest.fixture(scope="module")
def two_nodes():
    cluster = Cluster()
    try:
        cluster.start()
        cluster.ids = cluster.nodes(2)
        assert len(cluster.ids) == 2, "the second node never joined"
        yield cluster
    finally:
        cluster.stop()
        assert cluster.alive() == [], "Ray processes were left running"


def _mer(cluster: Cluster, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mer_viewer.cli", *args], cwd=REPO,
                          env=cluster.env, capture_output=True, text=True, timeout=timeout)


def test_train_joins_a_two_node_cluster_by_address(two_nodes, demo_corpus, tmp_path,
                                                   one_thread):
    run = _mer(two_nodes, "train", str(demo_corpus), "--out", str(tmp_path / "ray"), *TRAIN,
               "--ray", two_nodes.address)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    # the same predictions as this process's one-thread run, with its own cache
    assert main(["train", str(demo_corpus), "--out", str(tmp_path / "here"), *TRAIN]) == 0
    _same_run(tmp_path / "here", tmp_path / "ray")
    # each fold says where it ran: the folds ran at once, one on each node
    folds = json.loads((tmp_path / "ray" / "metrics.json").read_text())["per_fold"]
    assert len(folds) == 2
    assert {f["ray_node"] for f in folds} == set(two_nodes.ids)
    assert {f["host"] for f in folds} == {socket.gethostname()}
    here = json.loads((tmp_path / "here" / "metrics.json").read_text())["per_fold"]
    assert [f["ray_node"] for f in here] == [None, None]


def test_an_address_where_nothing_listens_is_one_line(demo_corpus, tmp_path):
    (port,) = _free_ports(1)  # closed again: nothing listens there
    started = time.monotonic()
    run = subprocess.run([sys.executable, "-m", "mer_viewer.cli", "train", str(demo_corpus),
                          "--out", str(tmp_path / "run"), "--ray", f"127.0.0.1:{port}"],
                         cwd=REPO, capture_output=True, text=True, timeout=120)
    took = time.monotonic() - started
    err = run.stderr.strip().splitlines()
    assert run.returncode == 1
    assert err == [f"mer train: error: cannot join the Ray cluster at 127.0.0.1:{port}: "
                   f"nothing answers there (Connection refused); is `ray start --head "
                   f"--port={port}` running on 127.0.0.1?"]
    assert took < 60  # Ray alone retries such an address for minutes
