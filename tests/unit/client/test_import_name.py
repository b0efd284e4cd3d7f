"""The client installs under the import name the README shows: `docqueue.client`."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_from_docqueue_client_import_client_works_in_a_fresh_interpreter() -> None:
    """A user's script outside the repo imports the installed client, not the source tree."""
    code = (
        "from docqueue.client import Client\n"
        "from docqueue import NotFoundError, DocqueueError\n"
        "assert issubclass(NotFoundError, DocqueueError)\n"
        "with Client(base_url='http://127.0.0.1:9', api_key='dq_x') as c:\n"
        "    print(type(c).__module__)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd="/",  # not the repo: the import must come from the installed package
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "docqueue.client"


def test_the_errors_and_views_import_from_docqueue_client_beside_the_client() -> None:
    """`from docqueue.client import Client, NotFoundError` is the one line a program needs."""
    code = (
        "from docqueue.client import (\n"
        "    BatchSummary, Client, DocqueueError, NotFoundError, RateLimitError,\n"
        "    WaitTimeoutError,\n"
        ")\n"
        "import docqueue\n"
        "assert NotFoundError is docqueue.NotFoundError\n"
        "assert issubclass(RateLimitError, DocqueueError)\n"
        "assert issubclass(WaitTimeoutError, TimeoutError)\n"
        "print(Client.__name__, BatchSummary.__name__)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd="/",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Client BatchSummary"


def test_the_docqueue_package_is_the_code_of_scripts_client() -> None:
    """One source of truth: the alias maps to scripts/client/, not a copy."""
    module = importlib.import_module("docqueue.client")
    assert Path(str(module.__file__)).resolve() == ROOT / "scripts" / "client" / "client.py"
