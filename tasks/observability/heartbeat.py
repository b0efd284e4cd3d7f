"""A liveness heartbeat for the loops that serve no port: the scheduler and the batcher.

The loop touches a file each time round (`Heartbeat.beat`); a Kubernetes exec probe runs
`python -m tasks.observability.heartbeat FILE MAX_AGE_S`, which fails once the file is
older than that. A wedged loop (a hung call, a deadlock) stops beating and is restarted;
a crash already ends the container. Only the standard library is imported here, so the
probe costs a bare interpreter start, not docqueue's imports.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path


class Heartbeat:
    """Touches `path` (when set) each time `beat` is called."""

    def __init__(self, path: Path | None) -> None:
        self.path = path

    def beat(self) -> None:
        """Record that the loop came round: the file's mtime becomes now."""
        if self.path is None:
            return
        try:
            self.path.touch()
        except OSError as exc:  # a full or read-only disk must not stop the loop itself
            print(f"heartbeat: cannot touch {self.path}: {exc.strerror}", file=sys.stderr)


def age_s(path: Path, *, now: float | None = None) -> float | None:
    """Seconds since the loop last beat; None when it never did."""
    try:
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        return None
    return (time.time() if now is None else now) - mtime


def main(argv: list[str]) -> int:
    """The probe: exit 0 while FILE beat within MAX_AGE_S seconds, else 1 with the reason."""
    if len(argv) != 2:
        print("usage: python -m tasks.observability.heartbeat FILE MAX_AGE_S", file=sys.stderr)
        return 2
    path, limit = Path(argv[0]), float(argv[1])
    age = age_s(path)
    if age is None:
        print(f"not alive: {path} was never written", file=sys.stderr)
        return 1
    if age > limit:
        print(f"not alive: last beat {age:.0f} s ago (limit {limit:.0f} s)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
