"""The one polling cadence: quick first polls (small jobs finish fast), then slower ones.

`polls()` is shared by `Client.wait_batch`, `docqueue extractor infer` and anything else
that follows a job or batch until it ends.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

FIRST_POLL_S = 0.25  # small batches finish in a second or two
POLL_GROWTH = 1.25
MAX_POLL_S = 2.0


def polls(
    timeout_s: float | None = None,
    *,
    first_s: float = FIRST_POLL_S,
    max_s: float = MAX_POLL_S,
    growth: float = POLL_GROWTH,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[float | None]:
    """Yield once per poll, sleeping between: `first_s`, growing by `growth` up to `max_s`.

    Each value is the time left before `timeout_s` (None without one), for the poll's own
    request to stay within it. The last poll is at the timeout; then the iteration ends,
    so code after the loop is the timeout's. Without a timeout it never ends by itself.
    """
    deadline = None if timeout_s is None else clock() + timeout_s
    delay = min(first_s, max_s)
    while True:
        if deadline is None:
            yield None
            sleep(delay)
        else:
            yield max(0.0, deadline - clock())
            left = deadline - clock()
            if left <= 0:
                return
            sleep(min(delay, left))
        delay = min(max_s, delay * growth)
