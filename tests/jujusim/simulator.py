"""The simulated controller as tests use it: start, program, inspect, stop."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import secrets
import shutil
import tempfile
import threading
import weakref
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from .pki import make_pki
from .profiles import Profile, profile_for
from .server import NodeServer
from .state import CallRecord, Controller, DownloadFault, Fault, Redirect


class Simulator:
    """A Juju controller of the chosen release, served from a background thread.

    Args:
        juju_version: the release to behave as (its profile: facades, methods, messages).
        ha: how many controller machines (API addresses), each with its own backup dir.
        archive_size: about how many bytes each Create's archive has.
        port: the first machine's port (0: any free port); the others take free ports.
    """

    def __init__(
        self,
        juju_version: str = "3.6.27",
        ha: int = 1,
        archive_size: int = 1 << 20,
        port: int = 0,
    ) -> None:
        if ha < 1:
            raise ValueError("ha must be at least 1")
        self.profile: Profile = profile_for(juju_version)
        self.juju_version = juju_version
        self._pki = make_pki()
        self._root = Path(tempfile.mkdtemp(prefix="jujusim-"))
        # Backup dirs go away with the simulator even if nobody calls stop().
        self._cleanup = weakref.finalize(self, shutil.rmtree, self._root, ignore_errors=True)
        self.controller = Controller(
            profile=self.profile,
            root=self._root,
            ha=ha,
            archive_size=archive_size,
            ca_cert=self._pki.ca_cert_pem,
            ca_key=self._pki.ca_key_pem,
        )
        self.username = "admin"
        self.password = secrets.token_urlsafe(18)
        self.controller.add_user(
            self.username, self.password, superuser=True, model_access="admin"
        )
        self._ports = [port] + [0] * (ha - 1)
        self._nodes: list[NodeServer] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopped = False

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> Simulator:
        if self._thread is not None:
            return self
        if self._stopped:
            raise RuntimeError("a stopped simulator cannot start again")
        loop = asyncio.new_event_loop()
        loop.set_exception_handler(_quiet_exception_handler)
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="jujusim", daemon=True)
        self._thread.start()
        tls = self._pki.server_context()
        self._nodes = [
            NodeServer(i, self.controller, tls, port, self._servers, self._drop_all)
            for i, port in enumerate(self._ports)
        ]
        future = asyncio.run_coroutine_threadsafe(self._start_nodes(), loop)
        try:
            future.result(timeout=30)
        except BaseException:
            self.stop()
            raise
        return self

    async def _start_nodes(self) -> None:
        for node in self._nodes:
            await node.start()

    def stop(self) -> None:
        """Stop serving and delete the backup dirs; safe to call more than once."""
        loop, thread = self._loop, self._thread
        if self._stopped:
            return
        self._stopped = True
        if loop is not None and thread is not None:
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(self._stop_nodes(), loop).result(timeout=30)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=30)
            if not thread.is_alive():
                loop.close()
        self._cleanup()

    async def _stop_nodes(self) -> None:
        await asyncio.gather(*(node.stop() for node in self._nodes), return_exceptions=True)

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- what clients need ---------------------------------------------------------------

    @property
    def endpoints(self) -> list[str]:
        if not self._nodes or not all(n.port for n in self._nodes):
            raise RuntimeError("the simulator is not started")
        return [f"127.0.0.1:{n.port}" for n in self._nodes]

    @property
    def ca_cert(self) -> str:
        return self._pki.ca_cert_pem

    @property
    def ca_private_key(self) -> str:
        """The CA private key that 2.x Backups answers carry as `ca-private-key`."""
        return self._pki.ca_key_pem

    @property
    def ca_private_key_marker(self) -> str:
        """A line of that key's PEM: finding it in a result, log or file means it leaked."""
        return self._pki.ca_key_marker

    @property
    def controller_uuid(self) -> str:
        return self.controller.controller_uuid

    @property
    def controller_model_uuid(self) -> str:
        return self.controller.controller_model.uuid

    @property
    def default_model_uuid(self) -> str:
        return self.controller.default_model.uuid

    def add_user(
        self, name: str, password: str, superuser: bool = False, model_access: str = "admin"
    ) -> None:
        """Add a local user; without superuser it has "login" access on the controller.

        `model_access` is the user's access on the controller and default models; "" gives
        none, so that model logins are refused as Juju refuses them.
        """
        self.controller.add_user(name, password, superuser=superuser, model_access=model_access)

    @property
    def kubernetes(self) -> bool:
        return self.controller.kubernetes

    @kubernetes.setter
    def kubernetes(self, value: bool) -> None:
        self.controller.kubernetes = value

    # -- what tests inspect --------------------------------------------------------------

    @property
    def violations(self) -> list[str]:
        """Protocol violations seen (requests or answers off-schema); tests may clear() it."""
        return self.controller.violations

    @property
    def calls(self) -> list[CallRecord]:
        return self.controller.calls

    def backup_dir(self, node: int) -> Path:
        return self.controller.node_dirs[node]

    @property
    def stored_backups(self) -> dict[str, dict[str, Any]]:
        """The 2.x controller store (keep-copy, upload): id -> metadata."""
        return self.controller.stored_backups()

    @property
    def restore_status(self) -> str:
        return self.controller.restore_status.value

    @property
    def restore_downtime(self) -> float:
        """Seconds a 2.x controller stays down after Restore (logins refused meanwhile)."""
        return self.controller.restore_downtime

    @restore_downtime.setter
    def restore_downtime(self, seconds: float) -> None:
        self.controller.restore_downtime = seconds

    @property
    def restore_fails(self) -> bool:
        """Make the next API restore end badly (FinishRestore then fails)."""
        return self.controller.restore_fails

    @restore_fails.setter
    def restore_fails(self, value: bool) -> None:
        self.controller.restore_fails = value

    def set_clock(self, now: Callable[[], datetime.datetime]) -> None:
        """Replace the controller's clock (backup ids and file names come from it)."""
        self.controller.now = now

    # -- faults --------------------------------------------------------------------------

    def fail_next(self, facade: str, method: str, code: str, message: str, times: int = 1) -> None:
        """The next `times` calls of facade.method answer this error."""
        self.controller.add_fault(Fault(facade, method, "fail", times, code=code, message=message))

    def drop_next(self, facade: str, method: str, times: int = 1) -> None:
        """The next `times` calls of facade.method close the connection instead of answering."""
        self.controller.add_fault(Fault(facade, method, "drop", times))

    def delay_next(self, facade: str, method: str, seconds: float, times: int = 1) -> None:
        """The next `times` calls of facade.method wait `seconds` before being handled."""
        self.controller.add_fault(Fault(facade, method, "delay", times, seconds=seconds))

    def download_fault(
        self,
        truncate_at: int | None = None,
        corrupt: bool = False,
        bytes_per_second: float | None = None,
    ) -> None:
        """The next download is cut after `truncate_at` bytes, has a flipped byte, or is slow."""
        with self.controller.lock:
            self.controller.download_faults.append(
                DownloadFault(truncate_at, corrupt, bytes_per_second)
            )

    def redirect_to(self, other: Simulator | None) -> None:
        """User logins answer "redirection required" pointing at `other` (None: stop)."""
        if other is None:
            self.controller.redirect = None
            return
        self.controller.redirect = Redirect(
            servers=other._servers(),
            ca_cert=other.ca_cert,
            controller_tag=f"controller-{other.controller_uuid}",
        )

    # -- internals -----------------------------------------------------------------------

    def _servers(self) -> list[list[dict[str, Any]]]:
        # One list of host-ports per controller machine, as Login's "servers" has them.
        return [
            [{"value": "127.0.0.1", "type": "ipv4", "scope": "local-machine", "port": n.port}]
            for n in self._nodes
        ]

    def _drop_all(self) -> None:
        for node in self._nodes:
            node.drop_all()


def _quiet_exception_handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    # Clients that fail TLS verification or vanish mid-handshake are expected in tests.
    exc = context.get("exception")
    if isinstance(exc, (ConnectionError, OSError)):
        return
    loop.default_exception_handler(context)
