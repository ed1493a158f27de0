"""The in-process backend of ``RateLimiter``: a sliding window on a clock given in."""

from __future__ import annotations

import pytest
from werkzeug.exceptions import TooManyRequests

from ledger.app.web.ratelimit import InProcessHits, RateLimiter


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_sliding_window_refuses_without_counting_and_says_when_to_retry() -> None:
    clock = Clock(1000.0)
    limiter = RateLimiter(2, 60.0, InProcessHits(clock))
    limiter.check("a")
    clock.t += 20
    limiter.check("a")
    with pytest.raises(TooManyRequests) as refused:
        limiter.check("a")
    assert refused.value.retry_after == 40  # the first attempt leaves the window then
    limiter.check("b")  # another key has its own count
    clock.t += 40  # the first attempt has left the window; the refused one never counted
    limiter.check("a")
    with pytest.raises(TooManyRequests):
        limiter.check("a")


@pytest.mark.parametrize(("n", "per_s"), [(0, 60.0), (1, 0.0)])
def test_a_limit_needs_attempts_and_a_window(n: int, per_s: float) -> None:
    with pytest.raises(ValueError, match="rate limit"):
        RateLimiter(n, per_s)
