from __future__ import annotations

import pytest

from adapter.matchers import parse_matchers


@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    [
        ('service="payments"', {"service": "payments"}, True),
        ('service="payments"', {"service": "payments-eu"}, False),
        ('service!="payments"', {"service": "api"}, True),
        ('service!="payments"', {}, True),
        ('service=~"pay.*"', {"service": "payments"}, True),
        ('service=~"pay"', {"service": "payments"}, False),  # anchored at both ends, as in AM
        ('service!~"pay.*"', {"service": "api"}, True),
        ('service=""', {}, True),  # a missing label matches as empty
        ("service=payments", {"service": "payments"}, True),  # bare value
        ('msg="say \\"hi\\""', {"msg": 'say "hi"'}, True),
        ('{service="api", env=~"prod|staging"}', {"service": "api", "env": "staging"}, True),
        ('{service="api", env=~"prod|staging"}', {"service": "api", "env": "dev"}, False),
    ],
)
def test_alertmanager_matcher_syntax(text: str, labels: dict[str, str], expected: bool) -> None:
    matchers = parse_matchers(text)
    assert all(m.matches(labels) for m in matchers) is expected


@pytest.mark.parametrize(
    "text", ["service", 'service=="x"', '="x"', 'a="unterminated', 'a=~"("', "{a=b", 'a="b" c="d"']
)
def test_bad_matchers_say_what_is_wrong(text: str) -> None:
    with pytest.raises(ValueError, match=r"matcher|quoted|regular expression|closing|unexpected"):
        parse_matchers(text)


def test_matcher_prints_back_in_alertmanager_form() -> None:
    (matcher,) = parse_matchers('a=~"x\\"y"')
    assert str(matcher) == 'a=~"x\\"y"'
    assert parse_matchers(str(matcher)) == [matcher]
