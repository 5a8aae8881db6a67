"""One table of upstream answers -> attempts and the adapter's answer to Alertmanager.

Every dialect's tests loop over it (tests/unit/test_upstream_answers.py), the way
Alertmanager's notifiers share one table of retryable codes. With max_attempts 4:
retryable answers are tried 4 times and end in 503; permanent ones once, in 424.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx


@dataclass(frozen=True)
class AnswerCase:
    name: str
    responses: tuple[int | str, ...]  # what the upstream does, attempt by attempt (last repeats)
    attempts: int
    status: int
    retry_after: str | None = None
    retry_after_sent: str | None = None


TABLE = [
    AnswerCase("202 accepted", (202,), 1, 200),
    AnswerCase("200 ok", (200,), 1, 200),
    AnswerCase("400 invalid event", (400,), 1, 424),
    AnswerCase("401 bad key", (401,), 1, 424),
    AnswerCase("403 forbidden", (403,), 1, 424),
    AnswerCase("404 not found", (404,), 1, 424),
    AnswerCase("408 request timeout", (408,), 4, 503),
    AnswerCase("429 without Retry-After", (429,), 4, 503),
    AnswerCase(
        "429 with a short Retry-After", (429,), 4, 503, retry_after="1", retry_after_sent="1"
    ),
    # A wait longer than the budget is not waited out: answer 503 at once, pass the wait on.
    AnswerCase(
        "429 with a long Retry-After", (429,), 1, 503, retry_after="120", retry_after_sent="120"
    ),
    AnswerCase("500", (500,), 4, 503),
    AnswerCase("502", (502,), 4, 503),
    AnswerCase("503", (503,), 4, 503),
    AnswerCase("timeout", ("timeout",), 4, 503),
    AnswerCase("connection refused", ("refused",), 4, 503),
    AnswerCase("503 then recovers", (503, 503, 202), 3, 200),
    AnswerCase("timeout then recovers", ("timeout", 202), 2, 200),
    AnswerCase("302 redirect is not followed", (302,), 1, 424),
]


def handler_for(answer: AnswerCase, calls: list[httpx.Request]):  # type: ignore[no-untyped-def]
    def handle(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        step = answer.responses[min(len(calls), len(answer.responses)) - 1]
        if step == "timeout":
            raise httpx.ReadTimeout("timed out", request=request)
        if step == "refused":
            raise httpx.ConnectError("connection refused", request=request)
        assert isinstance(step, int)
        headers = {"Retry-After": answer.retry_after} if answer.retry_after else {}
        if step == 302:
            headers["Location"] = "http://elsewhere.test/"
        return httpx.Response(step, headers=headers, json={"status": "whatever"})

    return handle
