"""A Trio supervisor: named children, restarted with backoff, escalated when they keep failing.

The supervisor owns one nursery. Each child runs inside a small runner task that calls the
child, classifies how it ended, and decides what happens next:

- **raised an Exception** → logged, then restarted after a backoff delay drawn with *full
  jitter* (``uniform(0, min(cap, base · 2**n))``, where ``n`` is the number of earlier failures
  still inside the policy window). Full jitter spreads the reconnect storms of several children
  that failed for the same reason (the venue went away) instead of hammering it in lockstep.
- **more than ``max_restarts`` failures inside ``window_s``** → the child is marked ``failed``,
  every other child is cancelled, and :meth:`Supervisor.run` raises :class:`SupervisorEscalation`
  — a plain exception, not a group — so the engine can ``except SupervisorEscalation`` and run
  its safe-stop path (stop quoting, cancel all, confirm, flush). When the supervisor itself runs
  inside the engine's nursery, Trio wraps it in a group there: catch it with
  ``except* SupervisorEscalation``.
- **returned normally** → ``restart="on-failure"``: the child is done (``stopped``);
  ``restart="always"``: it is restarted after the same backoff, and the return counts toward the
  restart intensity exactly like a crash (as Erlang/OTP counts permanent children), because a
  child that is meant to run for the bot's lifetime and keeps returning is as broken as one that
  keeps raising, and must not spin.
- **cancelled** (``trio.Cancelled``, naked or inside a group) → never a failure: the runner
  re-raises it untouched so the cancel scope that owns it (the engine's) unwinds cleanly, and the
  child's state becomes ``stopped``. If a child's own nursery raised real errors *while* being
  cancelled, those are logged and the cancellation still wins: the bot is stopping anyway.
- ``KeyboardInterrupt``/``SystemExit`` and other non-``Exception`` ``BaseException`` s propagate:
  they are not the child's failure to absorb.

The supervisor does not use ``except*`` inside the runner on purpose: ``except*`` re-raises a
naked ``Cancelled`` wrapped in a new group, which Trio tolerates but which hides the original
traceback shape; ``BaseExceptionGroup.split`` gives the same classification without rewrapping.

Time is Trio's clock (``trio.current_time()``), so tests drive it with ``autojump_clock``; the
RNG for jitter is injected so backoff is reproducible.
"""

from __future__ import annotations

import enum
import math
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

import trio
from loguru import logger

from mmtrio.error_text import error_text
from mmtrio.errors import MmtrioError, ParameterError

if TYPE_CHECKING:
    from loguru import Logger

RestartMode = Literal["on-failure", "always"]


class RandomSource(Protocol):
    """What the supervisor needs from an RNG: ``random.Random`` satisfies it."""

    def random(self) -> float:
        """A float in [0, 1)."""
        ...


class ChildState(enum.Enum):
    """Lifecycle of one supervised child, as the status screen shows it."""

    STARTING = "starting"  # invoked, has not signalled readiness yet
    RUNNING = "running"
    BACKING_OFF = "backing-off"  # failed (or returned under "always"), waiting to restart
    STOPPED = "stopped"  # returned under "on-failure", or cancelled
    FAILED = "failed"  # exceeded its restart policy: the supervisor escalated


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    """How one child is restarted.

    ``base_delay_s``/``cap_s`` (seconds) bound the exponential backoff; ``max_restarts``
    failures are tolerated inside any ``window_s`` (seconds) — the next one escalates.
    ``restart`` says what a normal return means (see the module docstring).
    """

    base_delay_s: float = 0.5
    cap_s: float = 30.0
    max_restarts: int = 5
    window_s: float = 60.0
    restart: RestartMode = "on-failure"

    def __post_init__(self) -> None:
        problems: list[str] = []
        for name in ("base_delay_s", "cap_s", "window_s"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
                problems.append(
                    f"{name} must be a positive finite number of seconds, got {value!r}"
                )
        if not problems and self.base_delay_s > self.cap_s:
            problems.append(f"base_delay_s ({self.base_delay_s}) must be <= cap_s ({self.cap_s})")
        if not isinstance(self.max_restarts, int) or self.max_restarts < 0:
            problems.append(f"max_restarts must be an int >= 0, got {self.max_restarts!r}")
        if self.restart not in ("on-failure", "always"):
            problems.append(f"restart must be 'on-failure' or 'always', got {self.restart!r}")
        if problems:
            raise ParameterError("invalid RestartPolicy: " + "; ".join(problems))

    def delay_ceiling(self, prior_failures: int) -> float:
        """Upper bound of the backoff after ``prior_failures`` earlier failures in the window."""
        # Cap the exponent before exponentiating: 2**1000 is fine for int, but not as float.
        exponent = min(prior_failures, 64)
        return min(self.cap_s, self.base_delay_s * (2.0**exponent))

    def delay(self, prior_failures: int, rng: RandomSource) -> float:
        """Full-jitter backoff in seconds: uniform over ``[0, delay_ceiling(prior_failures)]``."""
        u = rng.random()
        if not (isinstance(u, float | int) and 0.0 <= u <= 1.0):
            raise ParameterError(
                f"the supervisor's RNG returned {u!r}; it must return a float in [0, 1]"
            )
        return self.delay_ceiling(prior_failures) * float(u)


@dataclass(frozen=True, slots=True)
class ChildStatus:
    """One child's observable state (for the status screen and metrics).

    ``restarts`` counts every restart since the supervisor started; ``recent_failures`` only
    those inside the policy window (what escalation looks at). Times are Trio clock seconds.
    ``last_error`` is ``"TypeName: message"`` — a string, so a snapshot holds no live objects.
    """

    name: str
    state: ChildState
    restarts: int
    recent_failures: int
    last_error: str | None
    last_start_s: float | None
    next_start_s: float | None


class SupervisorEscalation(MmtrioError):
    """A child failed more often than its policy allows: the bot must stop safely.

    ``child`` is the child's name, ``last_error`` the exception that tipped it over (``None``
    when an ``always`` child kept returning normally). The exception is also ``__cause__``.
    """

    def __init__(self, child: str, last_error: BaseException | None, policy: RestartPolicy) -> None:
        what = (
            _describe(last_error)
            if last_error is not None
            else "it returned although its policy is restart='always'"
        )
        super().__init__(
            f"supervised task {child!r} failed more than {policy.max_restarts} times within "
            f"{policy.window_s:g} s; last: {what}. The bot is stopping safely; see the log for "
            "each failure and fix the cause before restarting."
        )
        self.child = child
        self.last_error = last_error
        self.policy = policy


def _describe(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup):
        leaves = "; ".join(_describe(e) for e in exc.exceptions)
        return f"{len(exc.exceptions)} errors [{leaves}]"
    return error_text(exc, typed=True)


class _ReadySignal:
    """The ``task_status`` handed to children that signal readiness (``trio.TaskStatus`` shape)."""

    def __init__(self, on_started: Callable[[], None]) -> None:
        self._on_started = on_started

    def started(self, value: object = None) -> None:
        self._on_started()


class InjectedCrash(MmtrioError):
    """A crash injected on purpose through :meth:`Supervisor.crash` (chaos harness)."""


@dataclass(slots=True)
class _Child:
    name: str
    fn: Callable[..., Awaitable[object]]
    policy: RestartPolicy
    signals_ready: bool
    state: ChildState = ChildState.STARTING
    restarts: int = 0
    failures: deque[float] = field(default_factory=deque)
    last_error: BaseException | None = None
    last_start_s: float | None = None
    next_start_s: float | None = None
    scope: trio.CancelScope | None = None  # the current run's own scope (fault injection)
    injected: BaseException | None = None

    def prune(self, now: float) -> None:
        """Forget failures older than the window: they no longer count toward escalation."""
        while self.failures and now - self.failures[0] > self.policy.window_s:
            self.failures.popleft()


class Supervisor:
    """Runs named children in its own nursery with a restart policy each.

    Usage::

        sup = Supervisor(rng=random.Random())
        sup.add("market-feed", feed.run, RestartPolicy(base_delay_s=0.5, cap_s=30))
        try:
            await sup.run()
        except SupervisorEscalation as exc:
            ...  # safe stop

    ``run`` returns when every child has stopped (only possible when all are ``on-failure``
    and returned), raises :class:`SupervisorEscalation` when one exceeds its policy, and
    propagates cancellation from the enclosing scope untouched.
    """

    def __init__(
        self,
        *,
        rng: RandomSource,
        default_policy: RestartPolicy | None = None,
        name: str = "supervisor",
    ) -> None:
        self._rng = rng
        self._default_policy = default_policy if default_policy is not None else RestartPolicy()
        self._name = name
        self._children: dict[str, _Child] = {}
        self._nursery: trio.Nursery | None = None
        self._escalation: SupervisorEscalation | None = None
        self._log = logger.bind(supervisor=name)

    def add(
        self,
        name: str,
        fn: Callable[..., Awaitable[object]],
        policy: RestartPolicy | None = None,
        *,
        signals_ready: bool = False,
    ) -> None:
        """Register a child; if the supervisor is already running, start it now.

        ``fn`` is called with no arguments, or with ``task_status=`` when ``signals_ready``
        (the child calls ``task_status.started()`` once it is really serving, e.g. after a
        websocket handshake; until then its state is ``starting``).
        """
        if not name:
            raise ParameterError("a supervised child needs a non-empty name")
        if name in self._children:
            raise ParameterError(f"a supervised child named {name!r} already exists")
        child = _Child(
            name=name,
            fn=fn,
            policy=policy if policy is not None else self._default_policy,
            signals_ready=signals_ready,
        )
        self._children[name] = child
        if self._nursery is not None:
            self._nursery.start_soon(self._run_child, child, name=f"{self._name}:{name}")

    def snapshot(self) -> list[ChildStatus]:
        """The state of every child, in registration order."""
        now = trio.current_time() if self._in_trio() else None
        out: list[ChildStatus] = []
        for child in self._children.values():
            if now is not None:
                child.prune(now)
            out.append(
                ChildStatus(
                    name=child.name,
                    state=child.state,
                    restarts=child.restarts,
                    recent_failures=len(child.failures),
                    last_error=_describe(child.last_error)
                    if child.last_error is not None
                    else None,
                    last_start_s=child.last_start_s,
                    next_start_s=child.next_start_s,
                )
            )
        return out

    @staticmethod
    def _in_trio() -> bool:
        try:
            trio.lowlevel.current_task()
        except RuntimeError:
            return False
        return True

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Run every registered child until all stop, one escalates, or the caller cancels."""
        if self._nursery is not None:
            raise ParameterError(f"supervisor {self._name!r} is already running")
        self._escalation = None
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                for child in self._children.values():
                    nursery.start_soon(self._run_child, child, name=f"{self._name}:{child.name}")
                task_status.started()
        finally:
            self._nursery = None
        # Escalation cancels our own nursery (not the caller's scope), so we get here normally
        # and raise a plain exception the engine can catch with a plain ``except``.
        if self._escalation is not None:
            raise self._escalation

    async def _run_child(self, child: _Child) -> None:
        log = self._log.bind(child=child.name)
        while True:
            child.state = ChildState.STARTING
            child.last_start_s = trio.current_time()
            child.next_start_s = None
            failure: BaseException | None = None
            try:
                with trio.CancelScope() as scope:
                    child.scope = scope
                    await self._invoke(child)
                if child.injected is not None:  # crash() cancelled this run: a failure
                    failure, child.injected = child.injected, None
            except BaseException as exc:
                failure = self._classify(exc, child, log)  # re-raises what is not a failure
            finally:
                child.scope = None
            now = trio.current_time()

            if failure is None and child.policy.restart == "on-failure":
                child.state = ChildState.STOPPED
                log.info("supervised task {child} finished", child=child.name)
                return

            child.prune(now)
            child.failures.append(now)
            if failure is not None:
                child.last_error = failure
            if len(child.failures) > child.policy.max_restarts:
                child.state = ChildState.FAILED
                self._escalate(child, failure, log)
                return

            delay = child.policy.delay(len(child.failures) - 1, self._rng)
            child.state = ChildState.BACKING_OFF
            child.next_start_s = now + delay
            if failure is not None:
                log.opt(exception=failure).warning(
                    "supervised task {child} failed ({error}); restart {n} in {delay:.3f} s",
                    child=child.name,
                    error=_describe(failure),
                    n=child.restarts + 1,
                    delay=delay,
                )
            else:
                log.warning(
                    "supervised task {child} returned under restart='always'; "
                    "restart {n} in {delay:.3f} s",
                    child=child.name,
                    n=child.restarts + 1,
                    delay=delay,
                )
            try:
                await trio.sleep(delay)
            except trio.Cancelled:
                child.state = ChildState.STOPPED
                child.next_start_s = None
                raise
            child.restarts += 1

    def crash(self, name: str, reason: str) -> None:
        """Fault injection (chaos runs): make child ``name`` fail now, exactly as a crash would
        (counted, backed off, restarted, escalated past its policy). Raises MmtrioError if no
        such child is running."""
        child = self._children.get(name)
        if child is None or child.scope is None:
            running = [c.name for c in self._children.values() if c.scope is not None]
            raise MmtrioError(f"no running supervised task {name!r}; running: {running}")
        child.injected = InjectedCrash(f"injected crash of {name}: {reason}")
        child.scope.cancel()

    async def _invoke(self, child: _Child) -> None:
        if child.signals_ready:

            def on_started() -> None:
                if child.state is ChildState.STARTING:
                    child.state = ChildState.RUNNING

            await child.fn(task_status=_ReadySignal(on_started))
        else:
            child.state = ChildState.RUNNING
            await child.fn()

    @staticmethod
    def _classify(exc: BaseException, child: _Child, log: Logger) -> Exception:
        """Return the failure to count, or re-raise what must propagate (cancellation etc.)."""
        if isinstance(exc, trio.Cancelled):
            child.state = ChildState.STOPPED
            raise exc
        if isinstance(exc, BaseExceptionGroup):
            cancelled, rest = exc.split(trio.Cancelled)
            if cancelled is not None:
                # We are being cancelled; errors raised during the child's teardown are logged,
                # not counted, and the cancellation propagates so its scope can absorb it.
                child.state = ChildState.STOPPED
                if rest is not None:
                    log.opt(exception=rest).warning(
                        "supervised task {child} raised while being cancelled: {error}",
                        child=child.name,
                        error=_describe(rest),
                    )
                raise cancelled
            # No Cancelled: a group of only Exceptions is a failure; anything else propagates.
            if isinstance(exc, ExceptionGroup):
                return exc
            child.state = ChildState.STOPPED
            raise exc
        if isinstance(exc, Exception):
            return exc
        child.state = ChildState.STOPPED
        raise exc

    def _escalate(self, child: _Child, failure: BaseException | None, log: Logger) -> None:
        escalation = SupervisorEscalation(child.name, failure, child.policy)
        escalation.__cause__ = failure
        log.opt(exception=failure).error("escalating: {reason}", reason=str(escalation))
        if self._escalation is None:  # the first one wins; later ones are its consequences
            self._escalation = escalation
        if self._nursery is not None:
            self._nursery.cancel_scope.cancel()
