"""A value computed at most once, by whichever thread asks first (or in a pool, when started)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, Protocol, TypeVar

T = TypeVar("T")
U = TypeVar("U")
T_co = TypeVar("T_co", covariant=True)


class HasResult(Protocol[T_co]):
    def result(self) -> T_co: ...


class Once(Generic[T]):
    """``result()`` computes the value on first use (thread-safe) and returns it ever after;
    an exception is kept and raised again to every caller."""

    def __init__(self, compute: Callable[[], T]) -> None:
        self._compute = compute
        self._lock = threading.Lock()
        self._future: Future[T] | None = None

    def start(self, pool: ThreadPoolExecutor) -> None:
        """Compute in ``pool`` now, unless already under way."""
        with self._lock:
            if self._future is None:
                self._future = pool.submit(self._compute)

    def start_thread(self, name: str) -> None:
        """Compute in a (daemon) thread of its own now, unless already under way: the caller
        goes on with other work and ``result()`` waits for it."""
        with self._lock:
            if self._future is not None:
                return
            future: Future[T] = Future()
            self._future = future

        def compute() -> None:
            try:
                future.set_result(self._compute())
            except BaseException as exc:
                future.set_exception(exc)

        threading.Thread(target=compute, name=name, daemon=True).start()

    def adopt(self, compute: Callable[[], T]) -> None:
        """Finish a computation started earlier instead (e.g. children already running):
        ``compute`` is called by the first thread that needs the value."""
        with self._lock:
            if self._future is None:
                self._compute = compute

    def result(self) -> T:
        with self._lock:
            if self._future is None:
                future: Future[T] = Future()
                self._future = future
                owner = True
            else:
                future, owner = self._future, False
        if owner:
            try:
                future.set_result(self._compute())
            except BaseException as exc:
                future.set_exception(exc)
        return future.result()

    get = result


def done(value: T) -> Once[T]:
    return Once(lambda: value)


def then(source: HasResult[T], fn: Callable[[T], U]) -> Once[U]:
    return Once(lambda: fn(source.result()))
