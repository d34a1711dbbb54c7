"""Error mapping, redaction, retries, and the package's import hygiene."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

import juju_api
from juju_api import errors as e
from juju_api import with_retries

KEY = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEsecret\n-----END EC PRIVATE KEY-----"
SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        ("unauthorized access", e.Unauthorized),
        ("not found", e.NotFound),
        ("model not found", e.NotFound),
        ("not supported", e.NotSupported),
        ("not implemented", e.NotImplementedByController),
        ("redirection required", e.RedirectRequired),
        ("forbidden", e.Forbidden),
        ("bad request", e.BadRequest),
        ("not valid", e.NotValid),
        ("login expired", e.LoginExpired),
        ("try again", e.TryAgain),
        ("upgrade in progress", e.UpgradeInProgress),
        ("", e.APIError),
        ("some new code", e.APIError),
    ],
)
def test_error_codes_map_to_types(code: str, cls: type[e.APIError]):
    err = e.error_from_wire("the server's words", code, {"k": "v"})
    assert type(err) is cls
    assert err.message == "the server's words" == str(err)
    assert err.code == code
    assert err.info == {"k": "v"}


def test_retryable_errors():
    assert isinstance(e.error_from_wire("x", "try again"), e.RetryableError)
    assert isinstance(e.error_from_wire("x", "upgrade in progress"), e.RetryableError)
    ha = e.error_from_wire("HA not ready; try again later", "")
    assert type(ha) is e.HANotReady
    assert isinstance(ha, e.RetryableError)
    assert not isinstance(e.error_from_wire("x", "not found"), e.RetryableError)
    assert not isinstance(e.error_from_wire("not HA not ready", ""), e.RetryableError)


@pytest.mark.parametrize(
    "message",
    [
        "juju restore is in progress - functionality is limited to avoid data loss",
        "juju restore is in progress - API is disabled to prevent data loss",
        "login failed - maintenance in progress",
    ],
)
def test_restore_in_progress_by_message(message: str):
    err = e.error_from_wire(message, "")
    assert type(err) is e.RestoreInProgress
    assert str(err) == message


def test_hierarchy():
    assert issubclass(e.TLSVerificationFailed, e.ConnectionFailed)
    assert issubclass(e.ChecksumMismatch, e.DownloadError)
    for cls in (e.ConnectionFailed, e.CallTimeout, e.ProtocolError, e.UnsupportedByController,
                e.APIError, e.DownloadError):  # fmt: skip
        assert issubclass(cls, e.JujuError)
    assert not issubclass(e.DownloadError, e.APIError)
    # Every public error is exported from the package too.
    for name in dir(e):
        obj = getattr(e, name)
        if isinstance(obj, type) and issubclass(obj, e.JujuError):
            assert getattr(juju_api, name) is obj


def test_private_key_never_survives_in_message_or_info():
    err = e.error_from_wire(
        f"cannot load {KEY} now",
        "bad request",
        {"ca-private-key": KEY, "nested": [{"ca-private-key": "x", "text": f"a {KEY}"}],
         "password": "hunter2", "ok": 1},
    )  # fmt: skip
    everything = f"{err} {err!r} {err.args} {err.info}"
    assert "PRIVATE KEY" not in everything
    assert "MHcCAQEEsecret" not in everything
    assert "hunter2" not in everything
    assert err.info["ok"] == 1
    assert err.message == "cannot load [redacted private key] now"


def test_truncated_key_block_is_redacted_too():
    err = e.ProtocolError("answer: -----BEGIN PRIVATE KEY-----\nMIIEvQIBADAN...")
    assert "MIIEvQ" not in str(err)


def test_download_errors_carry_status_and_checksums():
    d = e.DownloadError("nope", status=404, code="not found")
    assert (d.status, d.code, str(d)) == (404, "not found", "nope")
    c = e.ChecksumMismatch("differs", expected="a", actual="b")
    assert (c.expected, c.actual, c.status) == ("a", "b", None)


# -- with_retries ----------------------------------------------------------------------------


class Flaky:
    def __init__(self, failures: Sequence[Exception], result: str = "done") -> None:
        self.failures = list(failures)
        self.calls = 0
        self.result = result

    def __call__(self) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return self.result


def test_retries_retryable_errors_with_exponential_backoff():
    slept: list[float] = []
    fn = Flaky([e.TryAgain("try again", "try again"), e.HANotReady("HA not ready; try again")])
    assert with_retries(fn, attempts=3, backoff=1.5, sleep=slept.append) == "done"
    assert fn.calls == 3
    assert slept == [1.5, 3.0]


def test_gives_up_after_the_attempts_with_the_last_error():
    slept: list[float] = []
    errors = [e.UpgradeInProgress(f"upgrade {i}", "upgrade in progress") for i in range(4)]
    fn = Flaky(errors)
    with pytest.raises(e.UpgradeInProgress, match="upgrade 3"):
        with_retries(fn, attempts=4, backoff=2.0, sleep=slept.append)
    assert fn.calls == 4
    assert slept == [2.0, 4.0, 8.0]


@pytest.mark.parametrize(
    "failure",
    [
        e.ConnectionFailed("dropped"),
        e.CallTimeout("slow"),
        e.NotFound("gone", "not found"),
        e.RestoreInProgress("juju restore is in progress"),
        ValueError("bug"),
    ],
)
def test_does_not_retry_other_errors(failure: Exception):
    slept: list[float] = []
    fn = Flaky([failure])
    with pytest.raises(type(failure)):
        with_retries(fn, attempts=5, sleep=slept.append)
    assert fn.calls == 1
    assert slept == []


def test_one_attempt_means_no_retry():
    fn = Flaky([e.TryAgain("x", "try again")])
    with pytest.raises(e.TryAgain):
        with_retries(fn, attempts=1, sleep=lambda _s: pytest.fail("slept"))
    with pytest.raises(ValueError, match="attempts"):
        with_retries(fn, attempts=0)


# -- import hygiene --------------------------------------------------------------------------


def test_importing_juju_api_does_not_import_ops():
    code = (
        "import sys, juju_api\n"
        "assert 'ops' not in sys.modules, 'ops was imported'\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('charm', 'service', 'catalogue', 'lock', 'notes', 'schedule', 'config')]\n"
        "assert not bad, bad\n"
        "print('clean')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=SRC,
        env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "clean"


def test_juju_api_sources_import_nothing_from_the_rest_of_src():
    pkg = SRC / "juju_api"
    for path in pkg.glob("*.py"):
        for line in path.read_text().splitlines():
            stripped = line.strip()
            if stripped.startswith(("import ", "from ")):
                module = stripped.split()[1]
                assert not module.startswith(("ops", "charm", "service", "catalogue")), (
                    f"{path.name}: {stripped}"
                )
