"""The console's errors: each becomes an HTML page (or a redirect), mapped in api/errors.py."""

from __future__ import annotations


class ConsoleError(Exception):
    """Root of the console's errors: an HTML answer with this status; never retryable."""

    status = 400
    retryable = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SignInRequired(ConsoleError):
    """No live session: GETs are sent to the sign-in page, other methods get a 401 page."""

    status = 401

    def __init__(self, next_path: str) -> None:
        super().__init__("sign in to continue")
        self.next_path = next_path


class CsrfRefused(ConsoleError):
    """A state-changing form without this session's CSRF token."""

    status = 403

    def __init__(self) -> None:
        super().__init__("this form is missing its security token: reload the page and retry")


class PageNotFound(ConsoleError):
    """No such batch or job for this tenant (another tenant's look the same)."""

    status = 404

    def __init__(self, what: str) -> None:
        super().__init__(f"no such {what}")
