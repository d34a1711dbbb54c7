"""The Backups facade: capability table, refusals before sending, params per schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from juju_api import Backups, backups_capabilities, parse_version
from juju_api import errors as e

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "data" / "juju-schema"
ALL = {"create", "info", "list", "remove", "prepare-restore", "restore", "finish-restore"}
METHOD_OF = {
    "create": "Create", "info": "Info", "list": "List", "remove": "Remove",
    "prepare-restore": "PrepareRestore", "restore": "Restore", "finish-restore": "FinishRestore",
}  # fmt: skip


def metadata_wire(**extra: Any) -> dict[str, Any]:
    wire = {
        "id": "20240101-000000.abc", "checksum": "c", "checksum-format": "SHA-1, base64 encoded",
        "size": 10, "stored": "0001-01-01T00:00:00Z", "started": "2024-01-01T00:00:00Z",
        "finished": "2024-01-01T00:01:00Z", "notes": "", "model": "m", "machine": "0",
        "hostname": "h", "version": "2.8.11", "series": "focal",
        "ca-private-key": "-----BEGIN PRIVATE KEY-----\nX\n-----END PRIVATE KEY-----",
    }  # fmt: skip
    wire.update(extra)
    return wire


class FakeConn:
    """The part of Connection that Backups uses; records calls, answers from a table."""

    def __init__(self, server_version: str, versions: list[int], answers: Any = None) -> None:
        self.server_version = server_version
        self.facades = {"Backups": versions}
        self.endpoint = "10.0.0.1:17070"
        self.closed = False
        self.calls: list[tuple[str, str, Any, int, float | None]] = []
        self.answers: dict[str, Any] = answers or {}

    def best_version(self, facade: str) -> int | None:
        common = set(self.facades.get(facade, ())) & {1, 2, 3}
        return max(common) if common else None

    def call(self, facade: str, request: str, params: Any = None, *, version: int | None = None,
             timeout: float | None = None) -> Any:  # fmt: skip
        assert version is not None
        self.calls.append((facade, request, params, version, timeout))
        answer = self.answers.get(request, {})
        if isinstance(answer, Exception):
            raise answer
        if callable(answer):
            return answer(params)
        return answer


def backups(server: str, versions: list[int], answers: Any = None) -> tuple[Backups, FakeConn]:
    conn = FakeConn(server, versions, answers)
    return Backups(conn), conn  # type: ignore[arg-type]


# -- the table of juju-api.md ----------------------------------------------------------------

STORE = ALL | {"upload", "keep-copy", "no-download"}


@pytest.mark.parametrize(
    ("server", "versions", "version", "caps"),
    [
        ("2.0.0", [1], 1, ALL),
        ("2.3.4", [1], 1, ALL),
        ("2.4.0", [1, 2], 2, STORE),
        ("2.4.0", [1], 1, ALL | {"upload"}),
        ("2.8.11", [1, 2], 2, STORE),
        ("2.9.21", [1, 2], 2, STORE),
        ("2.9.22", [2], 2, {"create"}),
        ("2.9.31", [2], 2, {"create"}),
        ("2.9.32", [3], 3, {"create"}),
        ("2.9.60", [3], 3, {"create"}),
        ("3.0.0", [3], 3, {"create"}),
        ("3.6.27", [3], 3, {"create"}),
        ("4.0.0", [3], 3, set()),
        ("4.0.14", [3], 3, set()),
        ("4.1.2", [3, 4], 3, set()),
    ],
)
def test_capability_table(server: str, versions: list[int], version: int, caps: set[str]):
    b, _ = backups(server, versions)
    assert b.version == version
    assert b.capabilities == frozenset(caps)


@pytest.mark.parametrize(
    ("text", "parsed"),
    [("2.9.22", (2, 9, 22)), ("3.6.27.1", (3, 6, 27)), ("2.9-rc1", (2, 9, 0)),
     ("4.0", (4, 0, 0)), ("garbage", (0, 0, 0))],
)  # fmt: skip
def test_parse_version(text: str, parsed: tuple[int, int, int]):
    assert parse_version(text) == parsed


def _index() -> list[dict[str, Any]]:
    return [
        x for x in json.loads((SCHEMA_DIR / "index.json").read_text()) if x["facade"] == "Backups"
    ]


def _release_cases() -> list[tuple[str, int, str]]:
    return [
        (x["file"], x["facade_version"], v)
        for x in _index()
        for v in x["juju_versions"]
        if "-" not in v  # pre-releases are not in the table
    ]


@pytest.mark.parametrize(("file", "version", "release"), _release_cases())
def test_never_claims_a_method_the_release_schema_lacks(file: str, version: int, release: str):
    schema = json.loads((SCHEMA_DIR / file).read_text())["Schema"]
    caps = backups_capabilities(parse_version(release), version)
    methods = {c for c in caps if c in METHOD_OF}
    assert {METHOD_OF[m] for m in methods} <= set(schema["properties"])


@pytest.mark.parametrize(("file", "version", "release"), _release_cases())
def test_create_params_follow_the_release_schema(file: str, version: int, release: str):
    schema = json.loads((SCHEMA_DIR / file).read_text())["Schema"]
    args = schema["definitions"]["BackupsCreateArgs"]
    b, conn = backups(release, [version], {"Create": metadata_wire()})
    if "create" not in b.capabilities:  # 4.0: refused before sending
        with pytest.raises(e.UnsupportedByController):
            b.create("my notes")
        assert conn.calls == []
        return
    b.create("my notes")
    params = conn.calls[-1][2]
    # Every field Go marshals, nothing the release does not know.
    assert set(params) == set(args["properties"])
    assert params["notes"] == "my notes"
    for key, value in params.items():
        kind = args["properties"][key]["type"]
        assert isinstance(value, {"string": str, "boolean": bool}[kind])


def test_create_passes_keep_copy_and_no_download_on_2_8():
    b, conn = backups("2.8.11", [1, 2], {"Create": metadata_wire()})
    meta = b.create("n", keep_copy=True, no_download=True, timeout=600)
    assert conn.calls == [
        ("Backups", "Create", {"notes": "n", "keep-copy": True, "no-download": True}, 2, 600)
    ]
    assert meta.id == "20240101-000000.abc"
    assert "PRIVATE" not in repr(meta)


def test_create_v1_sends_only_notes_and_accepts_keep_copy():
    b, conn = backups("2.3.4", [1], {"Create": metadata_wire()})
    b.create("n", keep_copy=True, no_download=True)  # v1 always keeps the archive
    assert conn.calls[-1][2] == {"notes": "n"}


@pytest.mark.parametrize("server", ["2.9.22", "2.9.60", "3.6.27"])
def test_keep_copy_is_refused_before_sending_where_it_is_gone(server: str):
    b, conn = backups(server, [3] if server >= "2.9.32" else [2])
    with pytest.raises(e.UnsupportedByController, match="keep a copy") as exc:
        b.create("n", keep_copy=True)
    assert server in str(exc.value)
    assert conn.calls == []


def test_create_on_4_0_is_refused_before_sending():
    b, conn = backups("4.0.14", [3])
    with pytest.raises(e.UnsupportedByController) as exc:
        b.create("n")
    text = str(exc.value)
    assert "Juju 4.0.14" in text
    assert "Juju 4.0" in text
    assert "Dqlite" in text
    assert "v3" in text
    assert "no backup operation" in text
    assert conn.calls == []


@pytest.mark.parametrize("server", ["2.9.22", "2.9.60", "3.6.27"])
@pytest.mark.parametrize(
    ("action", "args"),
    [("info", ("x",)), ("list", ()), ("remove", (["x"],)), ("prepare_restore", ()),
     ("restore", ("x",)), ("finish_restore", ())],
)  # fmt: skip
def test_refusals_name_version_and_what_is_supported(server: str, action: str, args: tuple[Any]):
    b, conn = backups(server, [3] if server >= "2.9.32" else [2])
    with pytest.raises(e.UnsupportedByController) as exc:
        getattr(b, action)(*args)
    text = str(exc.value)
    assert f"Juju {server}" in text
    assert f"Backups facade v{b.version}" in text
    assert "it supports create" in text
    if "restore" in action:
        assert "juju-restore" in text
    else:
        assert "no longer store" in text
    assert conn.calls == []


def test_no_backups_facade_is_refused():
    conn = FakeConn("3.6.27", [])
    conn.facades = {}
    with pytest.raises(e.UnsupportedByController, match="controller model"):
        Backups(conn)  # type: ignore[arg-type]
    conn.facades = {"Backups": [7]}
    with pytest.raises(e.UnsupportedByController, match="versions 7"):
        Backups(conn)  # type: ignore[arg-type]


# -- stored backups (2.x) --------------------------------------------------------------------


def test_info_and_list():
    answers = {
        "Info": lambda p: metadata_wire(id=p["id"]),
        "List": {"list": [metadata_wire(id="a"), metadata_wire(id="b")]},
    }
    b, conn = backups("2.8.11", [1, 2], answers)
    assert b.info("zz").id == "zz"
    assert [m.id for m in b.list()] == ["a", "b"]
    assert conn.calls[0][1:4] == ("Info", {"id": "zz"}, 2)
    assert conn.calls[1][1:4] == ("List", {}, 2)


def test_list_null_is_empty_and_junk_is_a_protocol_error():
    b, _ = backups("2.8.11", [2], {"List": {"list": None}})
    assert b.list() == []
    b, _ = backups("2.8.11", [2], {"List": {"list": {"a": 1}}})
    with pytest.raises(e.ProtocolError):
        b.list()
    b, _ = backups("2.8.11", [2], {"List": {"list": [{"id": "only"}]}})
    with pytest.raises(e.ProtocolError):
        b.list()


def test_remove_v2_gives_a_result_per_id():
    missing = {"message": 'backup "b" not found', "code": "not found"}
    answer = {"results": [{}, {"error": missing}, {"error": None}]}
    b, conn = backups("2.8.11", [1, 2], {"Remove": answer})
    results = b.remove(["a", "b", "c"])
    assert conn.calls[-1][2] == {"ids": ["a", "b", "c"]}
    assert [r.id for r in results] == ["a", "b", "c"]
    assert results[0].error is None
    assert results[2].error is None
    assert isinstance(results[1].error, e.NotFound)
    assert str(results[1].error) == 'backup "b" not found'


@pytest.mark.parametrize(
    "answer",
    [{"results": [{}]}, {"results": None}, {"results": [{}, "x"]},
     {"results": [{}, {"error": {"code": "x"}}]}],
)  # fmt: skip
def test_remove_v2_malformed(answer: dict[str, Any]):
    b, _ = backups("2.8.11", [2], {"Remove": answer})
    with pytest.raises(e.ProtocolError):
        b.remove(["a", "b"])


def test_remove_v1_one_call_per_id():
    def remove(params: dict[str, Any]) -> dict[str, Any]:
        if params["id"] == "bad":
            raise e.NotFound("backup not found", "not found")
        return {}

    b, conn = backups("2.3.4", [1], {"Remove": remove})
    results = b.remove(["a", "bad", "c"])
    assert [c[2] for c in conn.calls] == [{"id": "a"}, {"id": "bad"}, {"id": "c"}]
    assert [(r.id, type(r.error).__name__) for r in results] == [
        ("a", "NoneType"), ("bad", "NotFound"), ("c", "NoneType"),
    ]  # fmt: skip


def test_remove_nothing_sends_nothing():
    b, conn = backups("2.8.11", [2])
    assert b.remove([]) == []
    assert conn.calls == []


def test_restore_sequence_and_the_drop_that_means_success():
    answers = {"Restore": e.ConnectionFailed("the connection was closed during Restore")}
    b, conn = backups("2.8.11", [1, 2], answers)
    b.prepare_restore()
    b.restore("the-id")
    b.finish_restore()
    assert [(c[1], c[2]) for c in conn.calls] == [
        ("PrepareRestore", None), ("Restore", {"backup-id": "the-id"}), ("FinishRestore", None),
    ]  # fmt: skip


def test_restore_on_a_closed_connection_is_not_success():
    b, conn = backups("2.8.11", [2])
    conn.closed = True
    with pytest.raises(e.ConnectionFailed):
        b.restore("x")
    assert conn.calls == []


def test_restore_errors_other_than_a_drop_propagate():
    b, _ = backups("2.8.11", [2], {"Restore": e.NotFound("backup not found", "not found")})
    with pytest.raises(e.NotFound):
        b.restore("x")


def test_download_id():
    meta_wire = metadata_wire(filename="/tmp/juju-backup-20240101-000000.tar.gz")
    b, _ = backups("2.8.11", [2], {"Create": meta_wire})
    assert b.download_id(b.create()) == "20240101-000000.abc"
    b, _ = backups("3.6.27", [3], {"Create": meta_wire})
    assert b.download_id(b.create()) == "/tmp/juju-backup-20240101-000000.tar.gz"


def test_create_answer_that_is_malformed():
    b, _ = backups("3.6.27", [3], {"Create": {"id": "x"}})
    with pytest.raises(e.ProtocolError, match="malformed backup metadata"):
        b.create()
