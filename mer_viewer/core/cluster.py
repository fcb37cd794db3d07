"""Ray, only when asked for (``--ray``): start or join a cluster, run functions there as tasks
with declared resources, retried when their worker dies, cancelled with the job.

``import ray`` happens here and only when a job is given :class:`RayOptions`; without the
optional extra (``pip install mer-viewer[cluster]``) that is a one-line MerError.
"""

from __future__ import annotations

import inspect
import logging
import os
import socket
import threading
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from .errors import MerError

INSTALL_HINT = "pip install mer-viewer[cluster]"


@dataclass(frozen=True)
class RayOptions:
    """Where and how jobs run on Ray.

    ``address``: ``local`` starts Ray on this machine (``local_cpus`` CPUs, default all),
    ``auto`` joins the cluster started here with ``ray start``, ``HOST:PORT`` the one whose
    head listens there. Every task declares ``cpus_per_task`` and ``gpus_per_task``
    (fractions allowed: 0.25 GPU puts four tasks on a GPU) and is run again up to
    ``max_retries`` times when its worker process or node dies.
    """

    address: str = "local"
    cpus_per_task: float = 1.0
    gpus_per_task: float = 0.0
    max_retries: int = 3
    local_cpus: int | None = None

    def __post_init__(self):
        problems = []
        if not self.address.strip():
            problems.append("the Ray address is empty (local, auto or HOST:PORT)")
        if not self.cpus_per_task > 0:
            problems.append(f"CPUs per task must be > 0, not {self.cpus_per_task}")
        if not self.gpus_per_task >= 0:
            problems.append(f"GPUs per task must be ≥ 0, not {self.gpus_per_task}")
        if self.max_retries < 0:
            problems.append(f"retries must be ≥ 0, not {self.max_retries}")
        if self.local_cpus is not None and self.local_cpus < 1:
            problems.append(f"local CPUs must be at least 1, not {self.local_cpus}")
        if problems:
            raise MerError("; ".join(problems))

    @property
    def threads(self) -> int:
        """Torch threads of a task: its whole CPUs."""
        return max(1, int(self.cpus_per_task))


@dataclass(frozen=True)
class TaskFailed:
    """A user error (MerError) raised in a task, brought back as a value: its message is
    what the user sees (MerError subclasses do not all survive pickling)."""

    kind: str
    message: str


def import_ray():
    """The ``ray`` module, or MerError saying how to install it."""
    try:
        import ray
    except ImportError:
        raise MerError("running on a Ray cluster needs Ray, an optional extra: "
                       f"{INSTALL_HINT}") from None
    return ray


_joined: str | None = None  # the address this process joined (None: not by connect)
_lock = threading.Lock()


def connect(options: RayOptions):
    """Start or join the cluster of ``options`` once per process and return ``ray``.

    A Ray already initialised in this process by someone else (a test, a notebook) is
    used as it is; one joined here for another address is left first.
    """
    global _joined
    ray = import_ray()
    with _lock:
        if ray.is_initialized():
            if _joined is None or _joined == options.address:
                return ray
            ray.shutdown()
        quiet = dict(logging_level=logging.WARNING, log_to_driver=False)
        if options.address == "local":
            ray.init(num_cpus=options.local_cpus or os.cpu_count() or 1,
                     include_dashboard=False, **quiet)
        else:
            _check_listening(options.address)
            try:
                ray.init(address=options.address, **quiet)
            except (ConnectionError, RuntimeError, ValueError, TimeoutError,
                    ray.exceptions.RayError) as exc:
                raise MerError(f"cannot join the Ray cluster at {options.address}: "
                               f"{_why(exc)}") from None
        _joined = options.address
    return ray


#: Seconds to wait for a cluster's head to accept a connection before Ray is asked to join it
#: (Ray itself retries an address where nothing listens for minutes).
CONNECT_TIMEOUT_S = 5.0


def _check_listening(address: str) -> None:
    """MerError when nothing accepts a TCP connection at ``HOST:PORT`` within
    CONNECT_TIMEOUT_S; other addresses (``auto``, ``ray://…``) are left to Ray."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or "://" in address:
        return
    try:
        with socket.create_connection((host.strip("[]"), int(port)), CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise MerError(f"cannot join the Ray cluster at {address}: nothing answers there "
                       f"({reason}); is `ray start --head --port={port}` running on "
                       f"{host}?") from None


def _why(exc: BaseException) -> str:
    """One line saying why joining failed (Ray hides a missing auth token in the cause)."""
    seen: BaseException | None = exc
    while seen is not None:
        if "InvalidAuthToken" in str(seen) or "AuthenticationError" in type(seen).__name__:
            return ("the cluster uses token authentication and refused this process: set "
                    "RAY_AUTH_MODE=token, with the cluster's token in ~/.ray/auth_token or "
                    "RAY_AUTH_TOKEN")
        seen = seen.__cause__ or seen.__context__
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def ray_node() -> str | None:
    """The id of the Ray node this process runs on (as ``ray status`` lists it) when it is a
    Ray worker or a driver joined to a cluster, else None."""
    import sys

    ray = sys.modules.get("ray")
    if ray is None or not ray.is_initialized():
        return None
    return ray.get_runtime_context().get_node_id()


def _run_task(fn: Callable, *args):
    """What a Ray worker runs: ``fn(*args)``; the values it yields (or its return value) are
    passed on one by one, a MerError as a TaskFailed value."""
    try:
        result = fn(*args)
        if inspect.isgenerator(result):
            yield from result
        else:
            yield result
    except MerError as exc:
        yield TaskFailed(type(exc).__name__, str(exc))


#: What ``Tasks.events`` yields when a task has finished (after its last value).
FINISHED = object()


class Tasks:
    """Functions running as Ray tasks (each a streaming generator task), followed as their
    values arrive; use as a context manager: leaving it cancels what still runs.

    ``events`` yields ``(key, value)`` for every value a task yields and ``(key,
    FINISHED)`` when it ends. A MerError in a task is raised here as a MerError with its
    message; any other exception of the task is raised as it was; a task whose worker died
    more than ``max_retries`` times is a MerError naming it.
    """

    def __init__(self, options: RayOptions, cancel=None):
        self.ray = connect(options)
        self.options, self.cancel = options, cancel
        # SPREAD: folds are long and alike, so one per free node; Ray's default packs
        # the driver's node first and may queue a task there while another node idles
        self._remote = self.ray.remote(_run_task).options(
            num_cpus=options.cpus_per_task, num_gpus=options.gpus_per_task,
            max_retries=options.max_retries, retry_exceptions=False,
            scheduling_strategy="SPREAD")
        self._pending: dict[Any, tuple[Hashable, str]] = {}

    def __enter__(self) -> Tasks:
        return self

    def __exit__(self, *exc) -> None:
        self.cancel_all()

    def put(self, value):
        """``value`` in the object store, to hand to many tasks (sent to each node once)."""
        return self.ray.put(value)

    def submit(self, key: Hashable, label: str, fn: Callable, *args) -> None:
        """Run ``fn(*args)`` as a task (ObjectRefs among ``args`` arrive as their values);
        ``label`` names it in errors."""
        self._pending[self._remote.remote(fn, *args)] = (key, label)

    @property
    def pending(self) -> int:
        return len(self._pending)

    def events(self, poll_s: float = 0.25) -> Iterator[tuple[Hashable, Any]]:
        """The tasks' values as they come; stops (cancelling the rest) once ``cancel`` is set."""
        ray = self.ray
        while self._pending:
            if self.cancel is not None and self.cancel.is_set():
                self.cancel_all()
                return
            ready, _ = ray.wait(list(self._pending), num_returns=1, timeout=poll_s)
            for gen in ready:
                key, label = self._pending[gen]
                try:
                    ref = next(gen)
                except StopIteration:
                    del self._pending[gen]
                    yield key, FINISHED
                    continue
                value = self._get(ref, label)
                if isinstance(value, TaskFailed):
                    raise MerError(value.message)
                yield key, value

    def _get(self, ref, label: str):
        ray = self.ray
        try:
            return ray.get(ref)
        except ray.exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, BaseException):
                raise cause from None
            raise
        except ray.exceptions.RayError as exc:  # a worker or node died too often, OOM, ...
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise MerError(f"{label}: failed on Ray after {self.options.max_retries} "
                           f"retries ({type(exc).__name__}: {first})") from None

    def cancel_all(self) -> None:
        """Cancel every task not finished yet (their workers are stopped)."""
        pending, self._pending = list(self._pending), {}
        for gen in pending:
            try:
                self.ray.cancel(gen, force=True)
            except Exception:  # noqa: BLE001 - finished meanwhile, or the cluster is gone
                pass


def map_on_ray(options: RayOptions, cancel=None) -> Callable[[Callable, Iterable[tuple]],
                                                               Iterator[Any]]:
    """A pool for ``preprocess``: ``pool(fn, calls)`` runs ``fn(*args)`` for every ``args``
    of ``calls`` as Ray tasks and yields their results as they finish."""
    def pool(fn: Callable, calls: Iterable[tuple]) -> Iterator[Any]:
        with Tasks(options, cancel) as tasks:
            for i, args in enumerate(calls):
                tasks.submit(i, f"task {i + 1}", fn, *args)
            for _key, value in tasks.events():
                if value is not FINISHED:
                    yield value

    return pool
