"""Bounded retries of transient controller refusals."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from .errors import RetryableError

T = TypeVar("T")
logger = logging.getLogger(__name__)


def with_retries(
    fn: Callable[[], T],
    *,
    attempts: int = 3,
    backoff: float = 2.0,
    sleep: Callable[[float], object] = time.sleep,
) -> T:
    """Call ``fn``, retrying it when the controller answers with a :class:`RetryableError`.

    Only an answer that says "not now" (``try again``, ``upgrade in progress``,
    ``HA not ready``) is retried: the controller refused the call, so repeating it is safe.
    Anything else propagates at once. In particular a dropped connection or a timeout is
    not retried, since the call may have taken effect: never wrap ``Backups.create`` so that
    it runs again after such a failure.

    Args:
        fn: the call to make.
        attempts: how many times to call ``fn`` at most (at least 1).
        backoff: seconds to wait after the first refusal; doubled after each further one.
        sleep: how to wait (tests pass a fake).

    Returns:
        What ``fn`` returned.

    Raises:
        RetryableError: the last refusal, once ``attempts`` calls were refused.
    """
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except RetryableError as e:
            if attempt == attempts:
                raise
            delay = backoff * 2 ** (attempt - 1)
            logger.info("controller says %r; retrying in %g s", e.message, delay)
            sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover
