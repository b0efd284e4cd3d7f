"""What the batch-lane tests share: the lane's TOML for rounds of about a second."""

from __future__ import annotations

from typing import Any

# [batch_lane] for test stacks: flush after half a second, poll five times a second.
LANE: dict[str, Any] = {
    "window_h": 24,
    "margin_h": 2,
    "flush_size": 100,
    "max_wait_s": 0.5,
    "poll_s": 0.2,
    "max_resubmits": 3,
    "openai_max_requests": 50000,
    "openai_max_bytes": 209715200,
    "anthropic_max_requests": 100000,
    "anthropic_max_bytes": 268435456,
}
