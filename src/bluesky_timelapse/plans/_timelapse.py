"""The timelapse plan: one bluesky run per scheduled slot, recorded so it can resume.

Each slot runs an inner plan (``count(detectors)`` unless told otherwise) as one
run whose start document carries ``timelapse_id``, ``timelapse_schedule`` (the
schedule as a dict), ``slot_index``, ``scheduled_time`` and ``lateness``. A slot begins ``lead`` seconds early (run
opened, devices staged) and its first trigger waits for the scheduled time. Every change of a slot's state is saved to
the :class:`~bluesky_timelapse.persistence.TimelapseStore` before the plan goes
on, so a crash costs at most the slot it interrupted, and
:func:`resume_timelapse` continues exactly where the timelapse was.
"""

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, Literal, get_args

import bluesky.plan_stubs as bps
import bluesky.plans
import bluesky.preprocessors as bpp
from bluesky.protocols import Readable
from bluesky.utils import InvalidCommand, Msg, MsgGenerator, RunEngineControlException, single_gen
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from .. import plugins
from .._checks import check_seconds
from ..persistence import TimelapseState, TimelapseStore
from ..schedules import Schedule, Slot, parse_duration, schedule_from_spec
from ..suspenders import suspension_log
from ._runs import close_orphaned_run, run_tracker, watch_runs
from ._stubs import wait_until

logger = logging.getLogger("bluesky_timelapse.plans")

MissedPolicy = Literal["skip", "catch_up", "run_all"]
FailurePolicy = Literal["continue", "stop"]
PlanFactory = Callable[..., MsgGenerator[Any]]

MISSED_POLICIES: tuple[str, ...] = get_args(MissedPolicy)
FAILURE_POLICIES: tuple[str, ...] = get_args(FailurePolicy)


class TimelapseOptions(BaseModel):
    """How a timelapse runs; stored with it, so a resume runs the same way.

    One validated model for the plan's keyword arguments, the store and the
    ``timelapse:`` section of a ``bluesky-timelapse run`` config file. Durations
    are seconds, or text such as ``"90s"`` or ``"1h30m"``.

    Raises
    ------
    ValueError
        (a pydantic ``ValidationError``) naming the field, the bad value and what
        is allowed; :meth:`checked` raises it as a plain ``ValueError``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    plan: str = "count"
    """The inner plan's name, called as ``plan(detectors, **plan_kwargs)``."""

    plan_kwargs: dict[str, Any] = Field(default_factory=dict)
    """The inner plan's keyword arguments."""

    grace: float = 60.0
    """Seconds a slot may start late and still run (see ``missed``)."""

    missed: MissedPolicy = "skip"
    """What happens to a slot later than ``grace``: ``"skip"`` records it missed;
    ``"catch_up"`` runs the latest overdue slot once, now; ``"run_all"`` runs every
    overdue slot, now."""

    lead: float = 0.5
    """Seconds before its scheduled time a slot begins: its run is opened and its
    devices staged (and the slot's state saved) ahead, and the inner plan's first
    ``trigger`` (or ``read``, ``kickoff``) waits for the scheduled time, so the
    frame is taken on time whatever the opening costs. 0 begins the slot at its time."""

    warmup: float = 0.0
    """The warm-up plan starts ``warmup`` seconds before the first slot (or ``lead``
    seconds, if longer: it runs before the slot begins), and before the first slot
    after a standby."""

    warmup_plan: str | None = None
    """The warm-up plan's name, or None for none."""

    standby_threshold: float | None = None
    """When the next slot is more than this many seconds away, the standby plan runs
    and the rig warms up again before that slot; None: never."""

    standby_plan: str | None = None
    """The standby plan's name, or None for none."""

    on_failure: FailurePolicy = "continue"
    """``"continue"`` records a failed slot and goes on; ``"stop"`` ends the timelapse."""

    @classmethod
    def checked(cls, **options: Any) -> "TimelapseOptions":
        """The options, or a ``ValueError`` whose message is the first problem's."""
        try:
            return cls(**options)
        except ValidationError as err:
            first = err.errors()[0]
            field = ".".join(str(part) for part in first["loc"])
            message = first["ctx"]["error"] if first["type"] == "value_error" else first["msg"]
            raise ValueError(f"{field} {message}") from None

    @field_validator("plan_kwargs", mode="before")
    @classmethod
    def _no_kwargs(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_validator("grace", "lead", "warmup", "standby_threshold", mode="before")
    @classmethod
    def _seconds(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name == "standby_threshold":
            return value
        if isinstance(value, str):
            try:
                value = parse_duration(value)
            except ValueError as err:
                raise ValueError(f"{value!r} is invalid: {err}") from None
        return check_seconds(None, value, zero_allowed=True)

    @field_validator("missed", "on_failure", mode="before")
    @classmethod
    def _choice(cls, value: Any, info: ValidationInfo) -> Any:
        allowed = MISSED_POLICIES if info.field_name == "missed" else FAILURE_POLICIES
        if value not in allowed:
            raise ValueError(f"{value!r} is not allowed; allowed: {', '.join(allowed)}")
        return value

    @field_validator("plan", "warmup_plan", "standby_plan")
    @classmethod
    def _known_plan(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                resolve_plan(value)  # now, not at the first slot
            except ValueError as err:
                raise ValueError(str(err).removeprefix("plan ")) from None
        return value

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form for the store."""
        return self.model_dump()


def resolve_plan(name: str, *, field: str = "plan") -> PlanFactory:
    """Find a plan by name: ``bluesky.plans`` first, then the plan entry points.

    Raises
    ------
    ValueError
        If no plan of that name exists; the message lists the allowed names.
    """
    found = getattr(bluesky.plans, name, None)
    if callable(found) and not name.startswith("_"):
        return found
    try:
        plan: PlanFactory = plugins.load_plugin(plugins.PLANS, name)
    except ValueError:
        entry_points = [p.name for p in plugins.available(plugins.PLANS)]
        raise ValueError(
            f"{field} {name!r} is not a known plan; allowed: a plan of bluesky.plans "
            f"(e.g. 'count') or one of the bluesky_timelapse.plans entry points "
            f"({', '.join(entry_points) or 'none installed'})"
        ) from None
    return plan


def timelapse(
    detectors: Sequence[Readable],
    schedule: dict[str, Any] | str,
    *,
    plan: str = "count",
    plan_kwargs: dict[str, Any] | None = None,
    grace: float = 60.0,
    missed: MissedPolicy = "skip",
    lead: float = 0.5,
    warmup: float = 0.0,
    warmup_plan: str | None = None,
    standby_threshold: float | None = None,
    standby_plan: str | None = None,
    on_failure: FailurePolicy = "continue",
    timelapse_id: str | None = None,
    store: str | None = None,
    md: dict[str, Any] | None = None,
) -> MsgGenerator[str]:
    """Acquire on a schedule, one run per slot, resumable after any crash.

    Parameters
    ----------
    detectors
        The devices each slot reads (passed to the inner plan).
    schedule
        A schedule as a dict or JSON text (see
        :func:`~bluesky_timelapse.schedules.schedule_from_spec`), e.g.
        ``{"kind": "every", "interval": "10m", "count": 144}``; a
        :class:`~bluesky_timelapse.schedules.Schedule` works too.
    plan, plan_kwargs, grace, missed, lead, warmup, warmup_plan, standby_threshold, standby_plan, on_failure
        See :class:`TimelapseOptions`.
    timelapse_id
        Name of the timelapse in the store; generated if not given. An existing
        id is refused (use :func:`resume_timelapse`).
    store
        Directory of the store; default: the user data directory (or
        ``$BLUESKY_TIMELAPSE_DIR``).
    md
        Metadata for every run of the timelapse.

    Yields
    ------
    Msg
        A checkpoint and an absolute-time wait before each slot, then the inner
        plan's messages, with the slot's metadata in its start document.

    Returns
    -------
    str
        The timelapse id.

    Raises
    ------
    ValueError
        For a bad schedule or option, or a schedule with no slot left to run under
        ``missed="skip"``, before anything is recorded.
    """
    parsed = schedule if isinstance(schedule, Schedule) else schedule_from_spec(schedule)
    options = TimelapseOptions.checked(
        plan=plan,
        plan_kwargs=dict(plan_kwargs or {}),
        grace=grace,
        missed=missed,
        lead=lead,
        warmup=warmup,
        warmup_plan=warmup_plan,
        standby_threshold=standby_threshold,
        standby_plan=standby_plan,
        on_failure=on_failure,
    )
    _check_not_all_past(parsed, options)
    timelapse_store = store if isinstance(store, TimelapseStore) else TimelapseStore(store)
    now = datetime.now(UTC)
    state = TimelapseState(
        timelapse_id=timelapse_id or f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}",
        created=now,
        updated=now,
        status="running",
        schedule=parsed.to_dict(),
        detectors=[device.name for device in detectors],
        plan=plan,
        plan_kwargs=options.plan_kwargs or {},
        md=dict(md or {}),
        options=options.to_dict(),
        slots=[],
        suspensions=[],
    )
    timelapse_store.create(state)
    logger.info("timelapse %s created in %s", state.timelapse_id, timelapse_store.directory)
    yield from _run(_Recorder(timelapse_store, state), detectors, parsed, options)
    return state.timelapse_id


def resume_timelapse(
    timelapse_id: str,
    detectors: Sequence[Readable],
    *,
    missed: MissedPolicy | None = None,
    store: str | None = None,
) -> MsgGenerator[str]:
    """Continue a timelapse from its store, after a crash, a stop or a reboot.

    A slot left running is recorded ``interrupted`` and the run it had opened gets
    its stop document (exit_status ``"abort"``); overdue slots follow the missed
    policy; the others run on time. No slot is ever acquired twice.

    Parameters
    ----------
    timelapse_id
        The timelapse to continue.
    detectors
        The same devices as when it started (checked by name).
    missed
        Overrides the stored missed-slot policy for this resume.
    store
        Directory of the store, as given to :func:`timelapse`.

    Yields
    ------
    Msg
        The stop documents owed by the previous session, then as :func:`timelapse`.

    Returns
    -------
    str
        The timelapse id.
    """
    timelapse_store = store if isinstance(store, TimelapseStore) else TimelapseStore(store)
    state = timelapse_store.load(timelapse_id, settled=False)
    names = [device.name for device in detectors]
    if names != state.detectors:
        raise ValueError(
            f"detectors {names} differ from those timelapse {timelapse_id!r} started with "
            f"({state.detectors}); allowed: the same devices, in the same order"
        )
    stored: dict[str, Any] = dict(state.options)
    if missed is not None:
        stored["missed"] = missed
    options = TimelapseOptions.checked(**stored)
    schedule = schedule_from_spec(state.schedule)
    recorder = _Recorder(timelapse_store, state)
    recorder.interrupt_running("the process running the timelapse ended during this slot")
    yield from _close_orphaned_runs(recorder)
    if state.status != "running":
        recorder.reopen()
    yield from _run(recorder, detectors, schedule, options)
    return state.timelapse_id


class _Recorder:
    """Applies state changes and saves each one before the plan goes on.

    Suspension notices arrive on other threads, hence the lock.
    """

    def __init__(self, store: TimelapseStore, state: TimelapseState) -> None:
        self.store = store
        self.state = state
        self._lock = threading.Lock()
        self._suspenders_holding = 0

    def _save(self) -> None:
        """Save, then drop the slots that are done from memory: every save costs the same."""
        self.store.save(self.state)
        self.state.forget_settled()

    def missed(self, slots: Sequence[Slot], lateness_of: Callable[[Slot], float]) -> None:
        with self._lock:
            for slot in slots:
                self.state.mark_missed(slot.index, slot.time, lateness=lateness_of(slot))
            self._save()
        logger.warning(
            "timelapse %s: %d slot(s) missed (%s .. %s), later than the grace period",
            self.state.timelapse_id,
            len(slots),
            slots[0].index,
            slots[-1].index,
        )

    def running(self, slot: Slot, lateness: float) -> None:
        """Mark the slot running, in memory only.

        The file learns it with the run's uid (:meth:`run_opened`): a crash before
        that leaves the slot pending on disk, and no run of it exists, so the
        resumed timelapse acquires it then, once. One save fewer per slot.
        """
        with self._lock:
            self.state.mark_running(
                slot.index, slot.time, lateness=lateness, started=datetime.now(UTC)
            )

    def run_opened(self, slot: Slot, run_uid: str) -> None:
        with self._lock:
            record = self.state.slot(slot.index)
            if record is not None and record.run_uid == run_uid:
                return  # already recorded by the start-document hook
            self.state.mark_run_uid(slot.index, run_uid)
            self._save()

    def run_closed(self, slot: Slot) -> None:
        """Note the slot's stop document (told by the plan and by the hook: once)."""
        with self._lock:
            record = self.state.slot(slot.index)
            if record is None or record.stop_emitted:
                return
            if record.status == "running":
                self.state.mark_run_closed(slot.index)
            else:
                self.state.mark_stop_emitted(slot.index)
            self._save()

    def succeeded(self, slot: Slot) -> None:
        with self._lock:
            self.state.mark_succeeded(slot.index, finished=datetime.now(UTC))
            self._save()

    def failed(self, slot: Slot, error: BaseException) -> None:
        message = f"{type(error).__name__}: {error}"
        cause = error.__cause__
        if cause is not None:
            message += f" (caused by {type(cause).__name__}: {cause})"
        with self._lock:
            self.state.mark_failed(slot.index, message, finished=datetime.now(UTC))
            self._save()
        logger.error(
            "timelapse %s: slot %d failed: %s", self.state.timelapse_id, slot.index, message
        )

    def interrupted(self, slot: Slot, reason: str) -> None:
        with self._lock:
            self.state.mark_interrupted(slot.index, reason=reason)
            self._save()

    def interrupt_running(self, reason: str) -> None:
        with self._lock:
            for record in self.state.slots:
                if record.status == "running":
                    self.state.mark_interrupted(record.index, reason=reason)
            self._save()

    def stop_emitted(self, index: int) -> None:
        with self._lock:
            self.state.mark_stop_emitted(index)
            self._save()

    def finish(self, status: str) -> None:
        with self._lock:
            self.state.finish(status)  # type: ignore[arg-type]
            self._save()

    def reopen(self) -> None:
        with self._lock:
            self.state.status = "running"
            self._save()

    def on_suspension(self, event: str, reason: str, when: datetime) -> None:
        """Record a suspension; overlapping ones make one, over their joint span."""
        with self._lock:
            current = self.state.open_suspension
            if event == "suspended":
                if current is not None:
                    self.state.end_suspension(when)
                    reason = f"{current.reason}; {reason}"
                self.state.begin_suspension(reason, when)
                self._suspenders_holding += 1
            else:
                self._suspenders_holding = max(0, self._suspenders_holding - 1)
                if current is None or self._suspenders_holding:
                    return
                self.state.end_suspension(when)
            self._save()


def _run(
    recorder: _Recorder,
    detectors: Sequence[Readable],
    schedule: Schedule,
    options: TimelapseOptions,
) -> MsgGenerator[None]:
    inner = resolve_plan(options.plan)
    warmup = resolve_plan(options.warmup_plan) if options.warmup_plan else None
    standby = resolve_plan(options.standby_plan) if options.standby_plan else None
    token = suspension_log.subscribe(recorder.on_suspension)
    cold = True  # the rig warms up before the first slot and after every standby
    try:
        slots = _Lookahead(schedule.slots(start_index=recorder.state.next_index))
        slot = slots.next()
        while slot is not None:
            overdue, slot = _skip_overdue(slot, slots, options)
            if overdue:
                recorder.missed(overdue, _lateness)
            if slot is None:
                break
            yield from bps.checkpoint()
            if cold and warmup is not None:  # before the slot begins, at least ``warmup`` ahead
                yield from wait_until(slot.time.timestamp() - max(options.warmup, options.lead))
                yield from warmup(list(detectors))
            cold = False
            yield from wait_until(slot.time.timestamp() - options.lead)
            if _is_missed(slot, slots.peek(), options):
                recorder.missed([slot], _lateness)
            else:
                yield from _acquire(recorder, slot, inner, detectors, options)
            following = slots.peek()
            threshold = options.standby_threshold
            if (
                following is not None
                and threshold is not None
                and -_lateness(following) > threshold
            ):
                if standby is not None:
                    yield from standby(list(detectors))
                cold = True
            slot = slots.next()
        recorder.finish("completed")
    except RunEngineControlException:
        recorder.finish("stopped")
        raise
    finally:
        suspension_log.unsubscribe(token)


def _acquire(
    recorder: _Recorder,
    slot: Slot,
    inner: PlanFactory,
    detectors: Sequence[Readable],
    options: TimelapseOptions,
) -> MsgGenerator[None]:
    lateness = max(0.0, _lateness(slot))  # begun ``lead`` early, the slot is not late
    md = {
        **recorder.state.md,
        "timelapse_id": recorder.state.timelapse_id,
        "timelapse_schedule": recorder.state.schedule,
        "slot_index": slot.index,
        "scheduled_time": slot.time.isoformat(),
        "scheduled_timestamp": slot.time.timestamp(),
        "lateness": lateness,
    }
    recorder.running(slot, lateness)
    plan = _hold_acquisition(inner(list(detectors), **(options.plan_kwargs or {})), slot)
    plan = bpp.inject_md_wrapper(plan, md)

    def on_open(uid: str) -> None:
        recorder.run_opened(slot, uid)

    def on_close() -> None:
        recorder.run_closed(slot)

    try:
        with run_tracker.expect(
            recorder.state.timelapse_id, slot.index, on_open=on_open, on_close=on_close
        ):
            yield from watch_runs(plan, on_open=on_open, on_close=on_close)
    except (RunEngineControlException, GeneratorExit) as control:
        recorder.interrupted(slot, f"the RunEngine was told to end the plan ({control!r})")
        raise
    except Exception as error:
        recorder.failed(slot, error)
        if options.on_failure == "stop":
            recorder.finish("failed")
            raise
        return
    recorder.succeeded(slot)


ACQUIRING_COMMANDS = frozenset({"trigger", "read", "kickoff"})
"""The messages an inner plan's acquisition begins with; the first waits for its slot."""


def _hold_acquisition(plan: MsgGenerator[Any], slot: Slot) -> MsgGenerator[Any]:
    """Pass ``plan`` through; its first acquiring message waits for the slot's time."""
    held = False

    def hold(msg: Msg) -> tuple[MsgGenerator[Any] | None, None]:
        nonlocal held
        if held or msg.command not in ACQUIRING_COMMANDS:
            return None, None
        held = True
        return bpp.pchain(wait_until(slot.time), single_gen(msg)), None

    return (yield from bpp.plan_mutator(plan, hold))


def _close_orphaned_runs(recorder: _Recorder) -> MsgGenerator[None]:
    for record in list(recorder.state.slots):
        if record.run_uid is None or record.stop_emitted:
            continue
        reason = (
            f"the process running timelapse {recorder.state.timelapse_id!r} ended during "
            f"slot {record.index} without closing this run; closed on resume"
        )
        try:
            yield from close_orphaned_run(record.run_uid, reason)
        except InvalidCommand:
            logger.warning(
                "cannot emit the stop document of run %s (slot %d): the RunEngine lacks "
                "the command; call bluesky_timelapse.plans.install_commands(RE) first",
                record.run_uid,
                record.index,
            )
            return
        recorder.stop_emitted(record.index)


class _Lookahead:
    """An iterator of slots that can look at the next one without taking it."""

    def __init__(self, slots: Iterator[Slot]) -> None:
        self._slots = slots
        self._next: Slot | None = next(slots, None)

    def peek(self) -> Slot | None:
        return self._next

    def next(self) -> Slot | None:
        current, self._next = self._next, next(self._slots, None)
        return current


def _skip_overdue(
    slot: Slot | None, slots: _Lookahead, options: TimelapseOptions
) -> tuple[list[Slot], Slot | None]:
    """Take the slots, from ``slot`` on, that are too late to run under the policy.

    Returns them, and the first slot to run (None when the schedule has ended).
    """
    overdue: list[Slot] = []
    while slot is not None and _is_missed(slot, slots.peek(), options):
        overdue.append(slot)
        slot = slots.next()
    return overdue, slot


def _is_missed(slot: Slot, following: Slot | None, options: TimelapseOptions) -> bool:
    """Whether ``slot`` is recorded missed rather than run (now) under the policy."""
    if _lateness(slot) <= options.grace or options.missed == "run_all":
        return False
    if options.missed == "catch_up":
        # Run the latest overdue slot: this one, unless the next is due already.
        return following is not None and _lateness(following) >= 0
    return True


def _lateness(slot: Slot) -> float:
    return time.time() - slot.time.timestamp()


def _check_not_all_past(schedule: Schedule, options: TimelapseOptions) -> None:
    last = schedule.last()
    if options.missed == "skip" and last is not None and _lateness(last) > options.grace:
        raise ValueError(
            f"schedule: every slot is past (the last was {last.time.isoformat()}); allowed: "
            "a schedule with slots to come, or missed='catch_up' / 'run_all' to run past slots"
        )
