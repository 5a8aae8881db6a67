"""The one interface every incident-API dialect implements.

A dialect is a module with a config model (a `ReceiverSettings` with a `type` literal) and
an `Integration` subclass that renders requests and says which answers are retryable. It
does no I/O: adapter/delivery.py sends what `render` returns. Outcomes of one request:

    Verdict.DELIVERED   2xx
    Verdict.RETRY       the upstream may accept it later (429, 408, 5xx by default)
    Verdict.REJECT      the upstream will never accept it as sent (other 4xx, 3xx)

A follow-up (`UpstreamRequest.then`) that cannot read a 2xx answer raises `RetryableAnswer`
when another try may read it (a listing that came back as an error page): RETRY, not REJECT.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, ClassVar, Generic, Literal, TypeVar

import structlog

from adapter.payload import Alert, WebhookPayload
from adapter.secrets import scrub
from adapter.urls import check_under

if TYPE_CHECKING:
    from adapter.settings import ReceiverSettings

log = structlog.get_logger("adapter.integrations")

Action = Literal["trigger", "resolve"]


class RenderError(Exception):
    """An event this receiver's config cannot turn into a request (e.g. a template needs a
    label the alert lacks). It fails that event for good (424), never the whole webhook."""


class RetryableAnswer(Exception):
    """Raised by a `then` for a 2xx answer it cannot read (not JSON, not the documented
    shape): the API may answer properly next time, so the event is retryable (503), where
    any other exception in `then` is a dialect's bug and fails the event for good."""


class Verdict(enum.Enum):
    DELIVERED = "delivered"
    RETRY = "retry"
    REJECT = "reject"


@dataclass(slots=True)  # a value, not frozen: made per event (docs/design.md)
class UpstreamRequest:
    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes
    # A follow-up derived, without I/O, from a successful answer's body: for APIs where
    # one step needs what the previous one returned (find an incident's id, then resolve
    # it). None: this request is the last. Raises RetryableAnswer for an unreadable answer.
    then: Callable[[bytes], UpstreamRequest | None] | None = field(default=None, compare=False)
    # What the delivery memo compares instead of the body (None: the body): for a create that
    # must happen once per dedup key whatever its text says (an API with no lookup).
    memo_identity: bytes | None = field(default=None, compare=False)


@dataclass(slots=True)  # a value, not frozen: made per event (docs/design.md)
class AlertEvent:
    """One alert of a webhook, with everything a dialect needs to render it."""

    alert: Alert
    action: Action
    dedup_key: str
    severity: str
    group: WebhookPayload = field(repr=False)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Which upstream answers are worth another attempt: data, with the vendor's doc beside it."""

    retry_statuses: frozenset[int]
    retry_5xx: bool = True
    doc_url: str = ""

    def verdict(self, status: int) -> Verdict:
        if 200 <= status < 300:
            return Verdict.DELIVERED
        if status in self.retry_statuses or (self.retry_5xx and status >= 500):
            return Verdict.RETRY
        return Verdict.REJECT


# The contract's default (DESIGN.md section 3): 408, 429 and every 5xx are worth a retry.
DEFAULT_RETRY = RetryPolicy(frozenset({408, 429}))

S = TypeVar("S", bound="ReceiverSettings")


class Integration(ABC, Generic[S]):
    """Renders alert events into upstream requests for one configured receiver."""

    # Longest dedup key the API takes; longer keys are hashed (adapter/keys.py).
    # Plain attributes, not ClassVars: a configurable dialect sets them per receiver.
    dedup_key_limit: int = 255
    retry_policy: RetryPolicy = DEFAULT_RETRY
    # The API's documented request budget as (requests, per seconds), or None: no limit known.
    default_rate_limit: tuple[int, float] | None = None
    # False for dry-run dialects: delivery logs the request instead of sending it.
    sends: ClassVar[bool] = True
    # What `render` feeds a chain's follow-ups to show them: an answer with nothing open.
    nothing_open: ClassVar[bytes] = b""

    def __init__(self, settings: S) -> None:
        self.settings = settings

    @abstractmethod
    def render(self, event: AlertEvent) -> UpstreamRequest:
        """The exact request for one event. Pure: no I/O, no clock."""

    def render_all(
        self, events: Sequence[AlertEvent]
    ) -> list[tuple[UpstreamRequest | RenderError, tuple[AlertEvent, ...]]]:
        """Requests for a webhook's events, each with the events it carries.

        One request per event by default; a dialect that merges alerts (a status page
        component takes the worst status of its alerts) overrides this. An event that
        cannot be rendered is paired with its RenderError instead of a request; so is one
        whose rendering raised anything else (a dialect's bug meets an odd alert): it fails
        alone, and the others go out.
        """
        out: list[tuple[UpstreamRequest | RenderError, tuple[AlertEvent, ...]]] = []
        for event in events:
            try:
                out.append((self.render(event), (event,)))
            except RenderError as exc:
                out.append((exc, (event,)))
            except Exception as exc:
                out.append((self.unexpected(exc, event), (event,)))
        return out

    def unexpected(self, exc: Exception, event: AlertEvent) -> RenderError:
        """A RenderError for an exception the dialect did not expect, logged as event.error
        (scrubbed). The answer names its type only: the message could quote a secret."""
        log.error(
            "event.error",
            receiver=self.settings.name,
            group_key=event.group.groupKey,
            dedup_key=event.dedup_key,
            error=scrub(f"{type(exc).__name__}: {exc}", self.settings.secret_values())[:500],
        )
        return RenderError(f"internal error ({type(exc).__name__}); see event.error in the log")

    def wants(self, event: AlertEvent) -> bool:
        """False for an event this dialect has nowhere to send (a status page: no component
        for its label). The pipeline then counts its alert as filtered, like `matchers`."""
        return True

    def verdict(self, status: int) -> Verdict:
        return self.retry_policy.verdict(status)


def confined(request: UpstreamRequest, base: str) -> UpstreamRequest:
    """The request, if its URL is under the receiver's `base` url (adapter/urls.py), with each
    follow-up it derives checked the same way when it is derived; else RenderError.

    Applied by the pipeline to every dialect's every request, not by each dialect: a new
    dialect cannot forget it."""
    why = check_under(request.url, base)
    if why is not None:
        raise RenderError(why)
    follow = request.then
    if follow is None:
        return request

    def then(answer: bytes) -> UpstreamRequest | None:
        derived = follow(answer)
        return None if derived is None else confined(derived, base)

    return replace(request, then=then)
