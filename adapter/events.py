"""The values that flow between the stages: an alert event, the request it renders to, and
what an upstream's answer means.

The model layer: dialects, delivery and the core import these; they import nothing of the
adapter but the payload. Outcomes of one request:

    Verdict.DELIVERED   2xx
    Verdict.RETRY       the upstream may accept it later (429, 408, 5xx by default)
    Verdict.REJECT      the upstream will never accept it as sent (other 4xx, 3xx)

A follow-up (`UpstreamRequest.then`) that cannot read a 2xx answer raises `RetryableAnswer`
when another try may read it (a listing that came back as an error page): RETRY, not REJECT.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from adapter.payload import Alert, WebhookPayload

Action = Literal["trigger", "resolve", "acknowledge"]  # acknowledge: a mute (adapter/mutes.py)


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


@dataclass(slots=True)  # a value, not frozen: made per event (docs/explanation/design.md)
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


@dataclass(slots=True)  # a value, not frozen: made per event (docs/explanation/design.md)
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
