"""What each Juju release serves: facade versions, methods, behaviour generation, schemas."""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass

from .schema import FacadeSchema, facade_schema
from .versions import version_key


class Generation(enum.Enum):
    """The rows of the Backups table in juju-api.md."""

    # 2.0 to 2.3: Backups v1; Create always keeps the archive in the controller's store.
    STORED_ONLY = "2.0-2.3"
    # 2.4 to 2.9.21: v1 and v2; keep-copy store, upload, Info/List/Remove, API restore.
    STORED = "2.4-2.9.21"
    # 2.9.22 to 2.9.60: archives are one-shot files on the controller machine.
    FILE = "2.9.22-2.9.60"
    # 3.x: Create only.
    CREATE_ONLY = "3.x"
    # 4.x: Create answers "not implemented".
    DQLITE = "4.x"


@dataclass(frozen=True)
class Profile:
    juju_version: str
    generation: Generation
    backups_versions: tuple[int, ...]
    modelmanager_version: int

    @property
    def series(self) -> str:
        major_minor = version_key(self.juju_version)[:2]
        if major_minor < (2, 5):
            return "xenial"
        if major_minor < (2, 9):
            return "bionic"
        return "focal"

    @property
    def base(self) -> str:
        return "ubuntu@24.04" if version_key(self.juju_version)[0] >= 4 else "ubuntu@22.04"

    @property
    def keeps_store(self) -> bool:
        """Whether the controller keeps archives in its database (List, Info, Remove, upload)."""
        return self.generation in (Generation.STORED_ONLY, Generation.STORED)

    @property
    def api_restore(self) -> bool:
        return self.keeps_store

    @property
    def stored_is_zero(self) -> bool:
        return not self.keeps_store

    def facade_versions(self) -> dict[str, tuple[int, ...]]:
        return {
            "Backups": self.backups_versions,
            "ModelManager": (self.modelmanager_version,),
            "Pinger": (1,),
        }

    def schema(self, facade: str, version: int) -> FacadeSchema:
        return _schema(facade, version, self.juju_version)


@functools.cache
def _schema(facade: str, version: int, juju_version: str) -> FacadeSchema:
    return facade_schema(facade, version, juju_version)


# The versions the project's tests name; any other 2.0..4.x release is derived by the table.
KNOWN_VERSIONS = ("2.3.4", "2.8.11", "2.9.22", "2.9.60", "3.6.27", "4.0.14")


def profile_for(juju_version: str) -> Profile:
    """The profile of a Juju release, from the version table in juju-api.md."""
    key = version_key(juju_version)
    major, minor = key[0], key[1]
    if major == 2 and minor <= 3:
        generation, backups = Generation.STORED_ONLY, (1,)
    elif major == 2 and (minor < 9 or key < version_key("2.9.22")):
        generation, backups = Generation.STORED, (1, 2)
    elif major == 2 and key < version_key("2.9.32"):
        generation, backups = Generation.FILE, (2,)
    elif major == 2:
        generation, backups = Generation.FILE, (3,)
    elif major == 3:
        generation, backups = Generation.CREATE_ONLY, (3,)
    elif major == 4:
        generation, backups = Generation.DQLITE, (3,)
    else:
        raise ValueError(f"no profile for Juju {juju_version}: the simulator knows 2.0 to 4.x")
    if major == 2 and minor < 9:
        # ModelManager v8 is the oldest schema here; 2.3 served an older version whose
        # ListModels had the same shape.
        modelmanager = 8
    elif key < version_key("3.4-rc2"):
        modelmanager = 9
    elif major == 3:
        modelmanager = 10
    else:
        modelmanager = 11
    return Profile(juju_version, generation, backups, modelmanager)
