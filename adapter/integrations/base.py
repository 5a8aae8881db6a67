"""The one interface every incident-API dialect implements.

A dialect is a module with a config model (a `ReceiverSettings` with a `type` literal) and
an `Integration` subclass that renders requests and says which answers are retryable. It
does no I/O: adapter/delivery.py sends what `render` returns. The values it takes and
returns (AlertEvent, UpstreamRequest, Verdict, RenderError, RetryPolicy) are in adapter/events.py.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, ClassVar, Generic, TypeVar

import structlog

from adapter.events import (
    DEFAULT_RETRY,
    AlertEvent,
    RenderError,
    RetryPolicy,
    UpstreamRequest,
    Verdict,
)
from adapter.secrets import scrub
from adapter.urls import check_under

if TYPE_CHECKING:
    from adapter.config.receivers import ReceiverSettings

log = structlog.get_logger("adapter.integrations")

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
