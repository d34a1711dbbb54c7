"""service.py's plain helpers: hosting-controller defaults, sizes, progress."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from service import (
    _Progress,  # pyright: ignore[reportPrivateUsage]
    agent_conf_path,
    ca_from_agent_conf,
    endpoints_from_env,
    human_size,
)

CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def test_endpoints_from_env() -> None:
    env = {"JUJU_API_ADDRESSES": "10.0.0.1:17070 10.0.0.2:17070  [fd00::1]:17070"}

    assert endpoints_from_env(env) == ["10.0.0.1:17070", "10.0.0.2:17070", "[fd00::1]:17070"]
    assert endpoints_from_env({}) == []


def test_agent_conf_path() -> None:
    assert agent_conf_path("juju-backups/3", Path("/agents")) == Path(
        "/agents/unit-juju-backups-3/agent.conf"
    )
    assert agent_conf_path("juju-backups/0") == Path(
        "/var/lib/juju/agents/unit-juju-backups-0/agent.conf"
    )


def test_ca_from_agent_conf(tmp_path: Path) -> None:
    conf = tmp_path / "agent.conf"
    conf.write_text(
        yaml.safe_dump({"tag": "unit-juju-backups-0", "apipassword": "x", "cacert": CA})
    )

    assert ca_from_agent_conf(conf) == CA


@pytest.mark.parametrize(
    "content", [None, "", "- a list\n", "cacert: ''\n", "{not: yaml", "x: 1\n"]
)
def test_ca_from_agent_conf_missing(tmp_path: Path, content: str | None) -> None:
    conf = tmp_path / "agent.conf"
    if content is not None:
        conf.write_text(content)

    assert ca_from_agent_conf(conf) is None


@pytest.mark.parametrize(
    ("size", "text"),
    [(0, "0 B"), (1023, "1023 B"), (1024, "1.0 KiB"), (3 << 29, "1.5 GiB"), (5 << 40, "5.0 TiB")],
)
def test_human_size(size: int, text: str) -> None:
    assert human_size(size) == text


def test_progress_is_logged_every_ten_percent() -> None:
    lines: list[str] = []
    progress = _Progress(1000, lines.append)

    for done in range(0, 1001, 7):
        progress(done, None)
    progress(1000, None)

    # 7-byte steps cross each 10% mark once; nothing in between is logged.
    assert lines == [f"downloading {p}%" for p in range(10, 101, 10)]


def test_progress_with_big_chunks_logs_each_chunk_once() -> None:
    lines: list[str] = []
    progress = _Progress(300, lines.append)

    for done in (100, 200, 300):
        progress(done, None)

    assert lines == ["downloading 33%", "downloading 66%", "downloading 100%"]


def test_progress_prefers_the_announced_total() -> None:
    lines: list[str] = []
    progress = _Progress(0, lines.append)  # the metadata said nothing useful

    progress(50, 100)

    assert lines == ["downloading 50%"]
    progress(10, None)  # no total at all: nothing to say
    assert lines == ["downloading 50%"]
