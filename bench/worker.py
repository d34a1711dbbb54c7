"""What runs inside each measured child process: ``python -m bench.worker KIND``.

The spec comes as JSON on stdin (passwords never go on the command line); the result is one
JSON line on stdout. Each kind imports only what its path needs, so that peak memory and
start-up belong to that path alone.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

Spec = dict[str, Any]


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


# -- archive download -----------------------------------------------------------------------


def baseline_client(_spec: Spec) -> dict[str, Any]:
    """Import the client and do nothing: the floor for its peak memory."""
    import juju_api  # noqa: F401

    return {}


def client_download(spec: Spec) -> dict[str, Any]:
    """Fetch one archive with juju_api.download_backup, the function Connection.download calls."""
    import juju_api

    elapsed, result = _timed(
        lambda: juju_api.download_backup(
            endpoint=spec["endpoint"],
            ca_cert=spec["ca_cert"],
            model_uuid=spec["model_uuid"],
            username=spec["username"],
            password=spec["password"],
            backup_id=spec["backup_id"],
            dest=Path(spec["dest"]),
            expected_checksum=spec["checksum"],
            expected_size=spec["size"],
        )
    )
    return {"seconds": elapsed, "size": result.size}


# -- one create-backup end to end -----------------------------------------------------------


def service_create(spec: Spec) -> dict[str, Any]:
    """Connect, log in, Create, download, verify and store through the charm's BackupService."""
    from catalogue import Catalogue
    from service import BackupService, ControllerAccess

    root = Path(spec["root"])
    access = ControllerAccess(
        endpoints=list(spec["endpoints"]),
        ca_cert=spec["ca_cert"],
        username=spec["username"],
        password=spec["password"],
        model_uuid=spec["model_uuid"],
    )
    service = BackupService(
        access, Catalogue(root), application="juju-backups", lock_path=root / ".bench.lock"
    )
    elapsed, entry = _timed(lambda: service.create("bench", trigger="bench"))
    return {"seconds": elapsed, "size": entry.size}


def libjuju_create(spec: Spec) -> dict[str, Any]:
    """Connect, log in, Create and download with python-libjuju's Model.create_backup.

    ``Model.connect`` also starts the AllWatcher (ModelConfig, AllWatcher facades), which the
    simulator does not serve; the Model is connected the way ``Model._connect_direct`` does it,
    without the watcher, and then ``create_backup`` runs unchanged. It writes the archive into
    the current directory.
    """
    import asyncio
    import os

    from juju.model import Model

    async def run() -> dict[str, Any]:
        model = Model()
        start = time.perf_counter()
        await model._connector.connect(  # pyright: ignore[reportPrivateUsage]
            endpoint=spec["endpoint"],
            uuid=spec["model_uuid"],
            username=spec["username"],
            password=spec["password"],
            cacert=spec["ca_cert"],
        )
        try:
            file_name, _meta = await model.create_backup("bench")
            elapsed = time.perf_counter() - start
        finally:
            await model.disconnect()
        return {"seconds": elapsed, "size": os.path.getsize(file_name)}

    return asyncio.run(run())


def libjuju_model_connect(spec: Spec) -> dict[str, Any]:
    """Try python-libjuju's documented Model.connect once and report how it ends."""
    import asyncio
    import contextlib

    from juju.model import Model

    async def run() -> dict[str, Any]:
        model = Model()
        try:
            await asyncio.wait_for(
                model.connect(
                    endpoint=spec["endpoint"],
                    uuid=spec["model_uuid"],
                    username=spec["username"],
                    password=spec["password"],
                    cacert=spec["ca_cert"],
                ),
                30,
            )
        except Exception as error:  # the outcome is what is reported
            outcome = f"{type(error).__name__}: {error}"
        else:
            outcome = "connected"
        with contextlib.suppress(Exception):  # the failed watcher re-raises its error here
            await model.disconnect()
        return {"outcome": outcome}

    return asyncio.run(run())


# -- list-backups ---------------------------------------------------------------------------


def client_list(spec: Spec) -> dict[str, Any]:
    """Time juju_api's Backups.list() on a controller that stores backups."""
    import juju_api

    with juju_api.connect(
        spec["endpoints"],
        spec["ca_cert"],
        spec["username"],
        spec["password"],
        model_uuid=spec["model_uuid"],
    ) as conn:
        backups = juju_api.Backups(conn)
        times: list[float] = []
        listed: list[Any] = []
        for _ in range(int(spec["repeats"])):
            elapsed, listed = _timed(backups.list)
            times.append(elapsed)
        # The answer as it came over the wire (CA material included), and what we keep of it.
        raw = conn.call("Backups", "List", {}, version=backups.version)
        wire = len(json.dumps(raw, separators=(",", ":")))
        kept = len(json.dumps([m.to_wire() for m in listed], separators=(",", ":")))
        # The client's own share: parsing the entries into BackupMetadata (CA keys dropped).
        parse, _ = _timed(lambda: [juju_api.BackupMetadata.from_wire(e) for e in raw["list"]])
    return {
        "times": times,
        "count": len(listed),
        "wire_bytes": wire,
        "result_bytes": kept,
        "parse_seconds": parse,
    }


def libjuju_list(spec: Spec) -> dict[str, Any]:
    """Try python-libjuju's Model.get_backups() on the same controller; report how it ends."""
    import asyncio
    import contextlib

    from juju.model import Model

    async def run() -> dict[str, Any]:
        model = Model()
        try:
            await model._connector.connect(  # pyright: ignore[reportPrivateUsage]
                endpoint=spec["endpoint"],
                uuid=spec["model_uuid"],
                username=spec["username"],
                password=spec["password"],
                cacert=spec["ca_cert"],
            )
            times: list[float] = []
            listed: list[Any] = []
            for _ in range(int(spec["repeats"])):
                elapsed, listed = await _timed_async(model.get_backups)
                times.append(elapsed)
            size = len(json.dumps(listed, separators=(",", ":"), default=str))
            return {"times": times, "count": len(listed), "result_bytes": size}
        except Exception as error:  # the outcome is what is reported
            return {"error": f"{type(error).__name__}: {error}"}
        finally:
            with contextlib.suppress(Exception):
                await model.disconnect()

    return asyncio.run(run())


async def _timed_async(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = await fn()
    return time.perf_counter() - start, value


def catalogue_list(spec: Spec) -> dict[str, Any]:
    """Time Catalogue.list() over the unit's archives directory."""
    from catalogue import Catalogue

    catalogue = Catalogue(Path(spec["root"]))
    times: list[float] = []
    entries: list[Any] = []
    for _ in range(int(spec["repeats"])):
        elapsed, entries = _timed(catalogue.list)
        times.append(elapsed)
    result = [
        {
            "id": e.id,
            "archive": str(e.archive),
            "size": e.size,
            "stored-at": e.stored_at.isoformat(),
            "metadata": e.metadata,
        }
        for e in entries
    ]
    return {
        "times": times,
        "count": len(entries),
        "result_bytes": len(json.dumps(result, separators=(",", ":"), default=str)),
    }


def json_floor(spec: Spec) -> dict[str, Any]:
    """Time the least any listing must do: read and parse every metadata file, nothing else."""
    import os

    root = spec["root"]

    def load_all() -> list[Any]:
        loaded: list[Any] = []
        with os.scandir(root) as it:
            for item in it:
                if item.name.endswith(".json"):
                    with open(item.path, "rb") as f:
                        loaded.append(json.loads(f.read()))
        return loaded

    times: list[float] = []
    loaded: list[Any] = []
    for _ in range(int(spec["repeats"])):
        elapsed, loaded = _timed(load_all)
        times.append(elapsed)
    return {"times": times, "count": len(loaded)}


# -- hooks ----------------------------------------------------------------------------------


def _charm_context(spec: Spec) -> tuple[Any, Any]:
    """The charm's Context and a ready State: credentials secret, archives storage attached."""
    import yaml
    from ops import testing

    from charm import JujuBackupsCharm

    # The charm runs as the leader, which writes its cron entry: keep it off the machine.
    JujuBackupsCharm.cron_dir = Path(tempfile.mkdtemp(prefix="bench-cron."))
    root = Path(spec["repo"])
    ctx = testing.Context(
        JujuBackupsCharm,
        meta=yaml.safe_load((root / "charmcraft.yaml").read_text()),
        actions=yaml.safe_load((root / "actions.yaml").read_text()),
        config=yaml.safe_load((root / "config.yaml").read_text()),
    )
    secret = testing.Secret(
        {
            "username": spec["username"],
            "password": spec["password"],
            "endpoints": ",".join(spec["endpoints"]),
            "ca-cert": spec["ca_cert"],
        }
    )
    config: dict[str, Any] = {"credentials": secret.id}
    if spec.get("model_uuid"):
        config["controller-model-uuid"] = spec["model_uuid"]
    state = testing.State(
        config=config,
        secrets=[secret],
        storages=[testing.Storage("archives")],
        leader=True,
    )
    return ctx, state


def hook(spec: Spec) -> dict[str, Any]:
    """Dispatch update-status to the charm or to the bare charm through ops[testing]."""
    if spec["charm"] == "bare":
        import yaml
        from ops import testing

        from bench.bare_charm import ACTIONS_YAML, CONFIG_YAML, METADATA_YAML, BareCharm

        ctx: Any = testing.Context(
            BareCharm,
            meta=yaml.safe_load(METADATA_YAML),
            actions=yaml.safe_load(ACTIONS_YAML),
            config=yaml.safe_load(CONFIG_YAML),
        )
        state: Any = testing.State(leader=True)
    else:
        ctx, state = _charm_context(spec)
    elapsed, out = _timed(lambda: ctx.run(ctx.on.update_status(), state))
    return {"seconds": elapsed, "status": str(out.unit_status)}


def list_action(spec: Spec) -> dict[str, Any]:
    """Run the charm's list-backups action (or ``spec["action"]``) with the storage filled."""
    import shutil

    from ops import testing

    ctx, state = _charm_context(spec)
    (storage,) = state.storages
    target = storage.get_filesystem(ctx)
    shutil.copytree(spec["root"], target, dirs_exist_ok=True)
    start = time.perf_counter()
    try:
        ctx.run(
            ctx.on.action(spec.get("action", "list-backups"), params=spec.get("params")), state
        )
    except testing.ActionFailed as failed:
        return {"error": f"the action failed: {failed.message}"}
    elapsed = time.perf_counter() - start
    results = ctx.action_results or {}
    return {
        "seconds": elapsed,
        "result_bytes": len(json.dumps(results, separators=(",", ":"), default=str)),
        "count": results.get("count"),
        "controller": results.get("controller"),
    }


KINDS: dict[str, Callable[[Spec], dict[str, Any]]] = {
    "baseline-client": baseline_client,
    "client-download": client_download,
    "service-create": service_create,
    "libjuju-create": libjuju_create,
    "libjuju-model-connect": libjuju_model_connect,
    "client-list": client_list,
    "libjuju-list": libjuju_list,
    "catalogue-list": catalogue_list,
    "json-floor": json_floor,
    "hook": hook,
    "list-action": list_action,
}


def main() -> None:
    """Run the kind named on the command line with the spec read from stdin."""
    kind = sys.argv[1]
    spec: Spec = json.loads(sys.stdin.read() or "{}")
    result = KINDS[kind](spec)
    result["vm_hwm"] = _vm_hwm()
    sys.stdout.write(json.dumps(result) + "\n")


def _vm_hwm() -> int:
    """Return this process's peak RSS in bytes, from /proc/self/status."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


if __name__ == "__main__":
    main()
