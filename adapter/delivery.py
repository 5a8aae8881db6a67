"""Delivery: the one module that talks to incident APIs.

    Deliverer.deliver(receiver, deliveries, deadline) -> list[Result]   (same order)

The deliveries of one webhook go out concurrently (at most `delivery.concurrency` at a
time), each retried with exponential backoff and jitter on timeouts, connection
errors and the answers its dialect calls retryable, honouring Retry-After when it fits.
One deadline bounds the whole webhook: what is not done by then is reported as retryable,
so Alertmanager hears a prompt 503 instead of a late 200.

Per-alert isolation: whatever goes wrong with one delivery fails that delivery alone, never
the webhook. Each kind has its verdict:

    cannot be rendered, follow-up cannot be derived      rejected (pure: it would fail again)
    the HTTP client refuses the request (RequestRefused)  rejected (nothing was sent)
    timeout, connection error, a retryable answer         failed, retried within the deadline
    any other exception while sending                     failed: a fault of the moment (a
                                                          closing session, a library's bug
                                                          under odd answers) that a retry may
                                                          not meet; logged as event.error

Under a receiver's rate budget the most urgent go first (adapter/ratelimit.py PRIORITIES:
critical, error, resolve, warning, info; then mute, what a silence calls for): the workers
of a webhook take its deliveries in that order, and the budget serves waiters of every
webhook in that order.
"""

from __future__ import annotations

import asyncio
import json
import random
import traceback
from dataclasses import dataclass
from typing import Any

import stamina
import structlog

from adapter import tracing
from adapter.coordination import Claim, Coordination
from adapter.events import RetryableAnswer, UpstreamRequest, Verdict
from adapter.memo import DeliveryMemo
from adapter.metrics import Metrics, code_class
from adapter.pipeline import Delivery, Receiver
from adapter.ratelimit import PRIORITIES, RateExhausted
from adapter.secrets import scrub
from adapter.transport import RequestRefused, Transport, TransportError

log = structlog.get_logger("adapter.delivery")

# Backoff between attempts: 0.1 s, 0.2 s, 0.4 s ... (at most 2 s), plus up to 0.1 s of
# jitter so replicas retrying the same outage spread out.
WAIT_INITIAL, WAIT_MAX, WAIT_JITTER = 0.1, 2.0, 0.1


def backoff(failed_attempts: int) -> float:
    exponential = min(WAIT_MAX, WAIT_INITIAL * 2.0 ** (failed_attempts - 1))
    return exponential + random.uniform(0, WAIT_JITTER)  # noqa: S311 -- jitter, not a secret


_RANK = {name: rank for rank, name in enumerate(PRIORITIES)}


def priority_of(delivery: Delivery) -> int:
    """The rank in PRIORITIES of the most urgent alert the delivery decides: a resolve
    ranks as `resolve`, a trigger as its severity. (A group's resolve that carries every
    alert of the webhook is as urgent as the most urgent of them: they all wait on it.)"""
    if delivery.priority is not None:  # set by whoever planned it (a mute's events)
        return _RANK[delivery.priority]
    events = delivery.events
    if len(events) == 1:  # nearly always: spare the generator
        return _RANK["resolve" if events[0].action == "resolve" else events[0].severity]
    return min(_RANK["resolve" if e.action == "resolve" else e.severity] for e in events)


@dataclass(slots=True)  # a value, not frozen: made per event (docs/explanation/design.md)
class Result:
    verdict: Verdict
    status: int | None = None  # the last upstream HTTP status, if any answered
    detail: str = ""
    retry_after: float | None = None
    attempts: int = 0


DEADLINE = Result(Verdict.RETRY, detail="deadline reached")
SKIPPED = Result(Verdict.DELIVERED, detail="already delivered (memo)")
# A request is only worth sending with at least this long left before the deadline.
MIN_ATTEMPT = 0.05


class _Retryable(Exception):
    def __init__(self, detail: str, status: int | None = None, retry_after: float | None = None):
        super().__init__(detail)
        self.detail, self.status, self.retry_after = detail, status, retry_after


class _Rejected(Exception):
    def __init__(self, detail: str, status: int | None):
        super().__init__(detail)
        self.detail, self.status = detail, status


class Deliverer:
    def __init__(self, transport: Transport, metrics: Metrics, memo: DeliveryMemo | None = None):
        self.transport = transport
        self.metrics = metrics
        self.memo = memo if memo is not None else DeliveryMemo()
        # The store replicas share (adapter/coordination/); None, the default: none.
        self.shared: Coordination | None = None
        # Made inside the loop it serves (the app's lifespan, a test incident's run), like
        # the aiohttp session; asking for the running loop is a getpid() call on 3.11.
        self.loop = asyncio.get_running_loop()

    async def deliver(
        self, receiver: Receiver, deliveries: list[Delivery], deadline: float
    ) -> list[Result]:
        results: list[Result] = [DEADLINE] * len(deliveries)
        if not deliveries:
            return results
        if len(deliveries) == 1:
            # The common case: no task and no timer. Each wait and attempt of a delivery is
            # already bounded by the deadline (retry_or_wait, the attempt's own timeout).
            first = deliveries[0]
            try:
                results[0] = await self._deliver_one(receiver, first, priority_of(first), deadline)
            except Exception as exc:  # a last net: one delivery never fails the webhook
                results[0] = _unexpected(receiver, first, exc)
            return results
        try:
            async with asyncio.timeout_at(deadline):
                # The workers share one iterator, most urgent first (stable: payload order
                # within a rank), so a storm's one critical does not sit behind its warnings.
                ranked = sorted((priority_of(d), i) for i, d in enumerate(deliveries))
                pending = iter(ranked)

                async def worker() -> None:
                    for rank, index in pending:
                        delivery = deliveries[index]
                        try:
                            results[index] = await self._deliver_one(
                                receiver, delivery, rank, deadline
                            )
                        except Exception as exc:  # a last net: it would cancel the others
                            results[index] = _unexpected(receiver, delivery, exc)

                workers = min(receiver.delivery.concurrency, len(deliveries))
                async with asyncio.TaskGroup() as group:
                    for _ in range(workers):
                        group.create_task(worker())
        except TimeoutError:
            for index, delivery in enumerate(deliveries):
                if results[index] is DEADLINE and delivery.retry_after is not None:
                    results[index] = Result(
                        Verdict.RETRY, detail=DEADLINE.detail, retry_after=delivery.retry_after
                    )
            log.warning(
                "webhook.deadline_reached",
                receiver=receiver.name,
                group_key=deliveries[0].events[0].group.groupKey,
                undelivered=sum(r.detail == DEADLINE.detail for r in results),
            )
        return results

    async def _deliver_one(
        self, receiver: Receiver, delivery: Delivery, priority: int, deadline: float
    ) -> Result:
        """A delivery's request, and then each follow-up its dialect derives from the answer."""
        loop = self.loop
        started = loop.time()
        if delivery.request is None:  # could not be rendered: nothing to send, ever
            result = Result(Verdict.REJECT, detail=delivery.error)
            _log_result(receiver, delivery, result)
            return result
        if not receiver.integration.sends:
            result = Result(Verdict.DELIVERED, detail="logged (dry run)")
            _log_result(receiver, delivery, result, log_body=True)
            return result
        key = delivery.events[0].dedup_key
        # A chained request starts with a lookup that is the same every time; it says
        # nothing of what the chain will do, so a chain is memoised only when its dialect
        # named what it does (memo_identity: Alert24's resolve by lookup).
        use_memo = receiver.delivery.memo_ttl > 0 and (
            delivery.request.then is None or delivery.request.memo_identity is not None
        )
        shared, mark = self.shared, None
        if use_memo and shared is not None and shared.up:
            claim, mark = await shared.memo_claim(
                receiver.name, key, delivery.request, deadline - loop.time()
            )
            if claim is Claim.DELIVERED:
                return SKIPPED
            if claim is Claim.BUSY:
                result = Result(Verdict.RETRY, detail="another replica is still delivering it")
                _log_result(receiver, delivery, result)
                return result
            if claim is Claim.LOCAL:  # the store went down: this replica's memo decides
                mark = None
        if (
            mark is None
            and use_memo
            and self.memo.delivered(receiver.name, key, delivery.request, started)
        ):
            return SKIPPED
        request: UpstreamRequest | None = delivery.request
        result = Result(Verdict.DELIVERED)
        while request is not None:
            try:
                if tracing.active is not None:  # a span per request (adapter/tracing.py)
                    result, body = await tracing.active.upstream(
                        self._send, receiver, request, priority, deadline, delivery
                    )
                else:
                    result, body = await self._send(receiver, request, priority, deadline, delivery)
            except Exception as exc:  # one delivery's fault must not fail the webhook
                result = _unexpected(receiver, delivery, exc)
                break
            if result.verdict is not Verdict.DELIVERED or request.then is None:
                break
            try:
                request = request.then(body)
            except RetryableAnswer as exc:  # e.g. a listing answered with an error page
                detail = f"cannot read the answer: {exc}"
                result = Result(Verdict.RETRY, result.status, detail, attempts=result.attempts)
                break
            except Exception as exc:  # a dialect's bug must fail its alerts, not the webhook
                detail = scrub(f"cannot derive the next request: {exc!r}", receiver.secrets)
                result = Result(Verdict.REJECT, detail=detail)
                break
        if mark is not None and shared is not None:
            delivered = result.verdict is Verdict.DELIVERED
            ttl = receiver.delivery.memo_ttl
            await shared.memo_done(receiver.name, key, delivery.request, mark, delivered, ttl)
        now = loop.time()
        if use_memo and result.verdict is Verdict.DELIVERED:
            self.memo.record(receiver.name, key, delivery.request, now, receiver.delivery)
        elif result.verdict is Verdict.DELIVERED and delivery.request.then is not None:
            # A chain (Alert24's resolve by lookup) changed the key's state: a re-fire whose
            # body equals the trigger before it must not be skipped as already delivered.
            self.memo.forget(receiver.name, key)
            if shared is not None:
                await shared.memo_forget(receiver.name, key)
        self.metrics.of(receiver.name).delivery_seconds.observe(now - started)
        _log_result(receiver, delivery, result)
        return result

    async def _send(
        self,
        receiver: Receiver,
        request: UpstreamRequest,
        priority: int,
        deadline: float,
        delivery: Delivery,
    ) -> tuple[Result, bytes]:
        """One request, retried as its dialect says, within the deadline. The longest wait
        an upstream asked for (Retry-After) is kept on the delivery: it still holds when a
        later attempt times out or the deadline cuts the delivery short."""
        loop = self.loop
        attempts = 0
        answer = b""
        counted = self.metrics.of(receiver.name)

        async def attempt() -> Result:
            nonlocal attempts, answer
            attempts += 1
            if attempts > 1:
                counted.retries.inc()
            window, stamp, ticket = receiver.rate_window, None, None
            if window is not None:
                if self.shared is not None:  # the replicas' window, in their store
                    window, ticket = None, await self._wait_for_rate(receiver, priority, deadline)
                elif (stamp := window.take(priority)) is None:
                    stamp = await self._wait_for_rate(receiver, priority, deadline)
            # Never 0 or less: aiohttp takes that for no timeout at all.
            timeout = max(
                MIN_ATTEMPT, min(receiver.delivery.attempt_timeout, deadline - loop.time())
            )
            try:
                response = await self.transport.send(request, timeout, receiver.http)
            except TimeoutError:
                counted.upstream["error"].inc()
                raise _Retryable(f"no answer within {timeout:.3g}s") from None
            except TransportError as exc:
                counted.upstream["error"].inc()
                raise _Retryable(f"connection failed: {exc}") from None
            except RequestRefused as exc:  # nothing went out: no upstream answer to count
                raise _Rejected(f"not sent: {exc}", None) from None
            finally:
                if window is not None and stamp is not None:
                    window.arrived(stamp)
                elif ticket is not None:
                    ticket.done()
            counted.upstream[code_class(response.status)].inc()
            verdict = receiver.integration.verdict(response.status)
            if verdict is Verdict.DELIVERED:
                answer = response.body
                return Result(verdict, response.status, attempts=attempts)
            # Scrubbed, then cut: cut first, a secret across the cut would leave its head.
            said = scrub(response.body[:4096].decode("utf-8", "replace"), receiver.secrets)[:300]
            detail = f"upstream answered {response.status}: {said}".rstrip(": ")
            if verdict is Verdict.RETRY:
                raise _Retryable(detail, response.status, response.retry_after)
            raise _Rejected(detail, response.status)

        def retry_or_wait(exc: Exception) -> bool | float:
            """The wait before the next attempt (Retry-After, else backoff), or False when
            the next attempt would not fit before the deadline: then Alertmanager hears a
            prompt 503 instead of a late one, with no timer armed for it."""
            if not isinstance(exc, _Retryable):
                return False
            if exc.retry_after is not None:
                delivery.heard(exc.retry_after)
            wait = exc.retry_after if exc.retry_after is not None else backoff(attempts)
            return wait if loop.time() + wait < deadline - MIN_ATTEMPT else False

        remaining = deadline - loop.time()
        if remaining < MIN_ATTEMPT:
            return DEADLINE, answer
        # A plain loop, not stamina's AsyncRetryingCaller: each call of that builds a
        # tenacity AsyncRetrying whose retry state points back at it, a reference cycle
        # that held the retried webhook (payload, events, bodies) until the cycle collector
        # ran, which the running process makes rare (server.settled): RSS grew with every
        # retry. Here nothing outlives the delivery; retry_or_wait picks each wait, and
        # stamina's testing switch still skips the waits (tests/conftest.py).
        try:
            while True:
                try:
                    result = await attempt()
                    break
                except _Retryable as exc:
                    wait = retry_or_wait(exc)
                    if wait is False or attempts >= receiver.delivery.max_attempts:
                        raise
                if not stamina.is_testing():
                    await asyncio.sleep(wait)
        except _Retryable as exc:
            if exc.retry_after is not None:
                delivery.heard(exc.retry_after)
            result = Result(Verdict.RETRY, exc.status, exc.detail, delivery.retry_after, attempts)
        except _Rejected as exc:
            result = Result(Verdict.REJECT, exc.status, exc.detail, attempts=attempts)
        return result, answer

    async def _wait_for_rate(self, receiver: Receiver, priority: int, deadline: float) -> Any:
        """Wait for the receiver's rate budget (its stamp; with a shared store, its Ticket),
        or fail as soon as it would come too late."""
        window = receiver.rate_window
        assert window is not None
        remaining = deadline - self.loop.time() - MIN_ATTEMPT
        waiting = self.metrics.of(receiver.name).budget_waiting[PRIORITIES[priority]]
        waiting.inc()
        try:
            if self.shared is not None:
                return await self.shared.acquire(receiver.name, window, priority, remaining)
            return await window.acquire(remaining, priority)
        except RateExhausted as exc:
            raise _Retryable(
                "rate budget exhausted until after the deadline", retry_after=exc.wait
            ) from None
        finally:
            waiting.dec()


def _unexpected(receiver: Receiver, delivery: Delivery, exc: Exception) -> Result:
    """An exception no layer expected while sending: failed (retryable), logged with where
    it came from. Its message may hold a secret (an echoed URL): scrubbed, and left out of
    the answer."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else ""
    first = delivery.events[0]
    log.error(
        "event.error",
        receiver=receiver.name,
        group_key=first.group.groupKey,
        dedup_key=first.dedup_key,
        error=scrub(f"{type(exc).__name__}: {exc}", receiver.secrets)[:500],
        where=where,
    )
    return Result(Verdict.RETRY, detail=f"internal error while sending ({type(exc).__name__})")


def _log_result(
    receiver: Receiver, delivery: Delivery, result: Result, log_body: bool = False
) -> None:
    first = delivery.events[0]
    fields = {
        "receiver": receiver.name,
        "group_key": first.group.groupKey,
        "dedup_key": first.dedup_key,
        "fingerprint": first.alert.fingerprint,
        "action": first.action,
        "severity": first.severity,
        "alerts": len(delivery.events),
        "status": result.status,
        "attempts": result.attempts,
    }
    if log_body and delivery.request is not None:
        log.info("event.logged", **fields, would_send=json.loads(delivery.request.body))
    elif result.verdict is Verdict.DELIVERED:
        log.info("event.delivered", **fields)
    else:
        retryable = result.verdict is Verdict.RETRY
        log.warning("event.failed", **fields, retryable=retryable, error=result.detail)
