"""Every programmable fault: error answers, dropped connections, delays, bad downloads."""

from __future__ import annotations

import base64
import hashlib
import http.client
import time

import pytest
from websockets.exceptions import ConnectionClosed

from tests.conftest import MakeSim
from tests.jujusim import Simulator
from tests.jujusim.wire import RawRpc, download


def b64sha1(data: bytes) -> str:
    return base64.b64encode(hashlib.sha1(data).digest()).decode()  # noqa: S324


def login(sim: Simulator, node: int = 0) -> RawRpc:
    rpc = RawRpc(sim.endpoints[node], sim.ca_cert, sim.controller_model_uuid)
    assert "error" not in rpc.login(sim.username, sim.password)
    return rpc


CREATE = {"notes": "", "no-download": False}


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("try again", "try again"),
        ("upgrade in progress", "upgrade in progress"),
        ("", "HA not ready; try again later"),
    ],
)
def test_fail_next_answers_the_error_n_times(make_sim: MakeSim, code: str, message: str):
    sim = make_sim("3.6.27", archive_size=64 << 10)
    sim.fail_next("Backups", "Create", code, message, times=2)
    with login(sim) as rpc:
        answers = [rpc.call("Backups", 3, "Create", CREATE) for _ in range(3)]
    for failed in answers[:2]:
        assert failed["error"] == message
        assert failed.get("error-code", "") == code
        assert failed["response"] == {}
    assert "error" not in answers[2]
    assert len(list(sim.backup_dir(0).iterdir())) == 1


def test_fail_next_on_login(make_sim: MakeSim):
    sim = make_sim("2.9.60")
    sim.fail_next("Admin", "Login", "upgrade in progress", "upgrade in progress")
    with RawRpc(sim.endpoints[0], sim.ca_cert, sim.controller_model_uuid) as rpc:
        first = rpc.login(sim.username, sim.password)
        second = rpc.login(sim.username, sim.password)
    assert first["error-code"] == "upgrade in progress"
    assert "error" not in second


def test_drop_next_closes_the_connection_without_answer(make_sim: MakeSim):
    sim = make_sim("3.6.27", archive_size=64 << 10)
    sim.drop_next("Backups", "Create")
    with login(sim) as rpc:
        rpc.request("Backups", 3, "Create", CREATE)
        with pytest.raises(ConnectionClosed):
            rpc.recv()
    with login(sim) as rpc:
        assert "error" not in rpc.call("Backups", 3, "Create", CREATE)
    assert [c.method for c in sim.calls if c.facade == "Backups"] == ["Create", "Create"]


def test_delay_next_holds_only_that_call(make_sim: MakeSim):
    sim = make_sim("3.6.27")
    sim.delay_next("Pinger", "Ping", 0.5)
    with login(sim) as rpc:
        slow = rpc.request("Pinger", 1, "Ping")
        fast = rpc.request("Pinger", 1, "Ping")
        order = [rpc.recv()["request-id"], rpc.recv()["request-id"]]
    assert order == [fast, slow]


def test_delay_makes_a_client_timeout_observable(make_sim: MakeSim):
    sim = make_sim("3.6.27")
    sim.delay_next("Pinger", "Ping", 3)
    with login(sim) as rpc:
        rpc.request("Pinger", 1, "Ping")
        with pytest.raises(TimeoutError):
            rpc.recv(timeout=0.2)


def test_truncated_download(make_sim: MakeSim):
    sim = make_sim("3.6.27", archive_size=256 << 10)
    with login(sim) as rpc:
        meta = rpc.call("Backups", 3, "Create", CREATE)["response"]
    sim.download_fault(truncate_at=100_000)
    with pytest.raises(http.client.IncompleteRead) as caught:
        download(
            sim.endpoints[0],
            sim.ca_cert,
            sim.controller_model_uuid,
            sim.username,
            sim.password,
            meta["filename"],
        )
    assert len(caught.value.partial) <= 100_000
    # The file went when the download opened it: the backup is lost, as on a real controller.
    assert not list(sim.backup_dir(0).iterdir())


def test_corrupt_download(make_sim: MakeSim):
    sim = make_sim("2.8.11", archive_size=128 << 10)
    with login(sim) as rpc:
        meta = rpc.call("Backups", 2, "Create", {**CREATE, "keep-copy": True})["response"]
    sim.download_fault(corrupt=True)
    args = (sim.controller_model_uuid, sim.username, sim.password, meta["id"])
    bad = download(sim.endpoints[0], sim.ca_cert, *args)
    good = download(sim.endpoints[0], sim.ca_cert, *args)
    assert bad.status == 200
    assert len(bad.body) == meta["size"]
    assert b64sha1(bad.body) != meta["checksum"]
    assert b64sha1(good.body) == meta["checksum"]
    assert sum(a != b for a, b in zip(bad.body, good.body, strict=True)) == 1


def test_slow_download(make_sim: MakeSim):
    sim = make_sim("3.6.27", archive_size=48 << 10)
    with login(sim) as rpc:
        meta = rpc.call("Backups", 3, "Create", CREATE)["response"]
    rate = 64 << 10
    sim.download_fault(bytes_per_second=rate)
    started = time.monotonic()
    got = download(
        sim.endpoints[0],
        sim.ca_cert,
        sim.controller_model_uuid,
        sim.username,
        sim.password,
        meta["filename"],
    )
    elapsed = time.monotonic() - started
    assert b64sha1(got.body) == meta["checksum"]
    # A lower bound only: the throttle cannot make it faster than the rate allows.
    assert elapsed >= 0.9 * meta["size"] / rate


def test_faults_match_facade_and_method(make_sim: MakeSim):
    sim = make_sim("3.6.27")
    sim.fail_next("Backups", "Create", "try again", "try again")
    with login(sim) as rpc:
        assert "error" not in rpc.call("Pinger", 1, "Ping")
        assert rpc.call("Backups", 3, "Create", CREATE)["error-code"] == "try again"
