"""Typed views of the controller's answers.

Parsing is the boundary where the controller's CA key material is dropped: a
:class:`BackupMetadata` has no field for ``ca-cert`` or ``ca-private-key``, and its
validator removes them before pydantic sees the data, so no repr, dump, log line or
validation error can carry them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from .errors import APIError, ProtocolError

_DROPPED = ("ca-cert", "ca-private-key", "ca_cert", "ca_private_key")
_ZERO_TIME = "0001-01-01T00:00:00Z"
_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$"
)


def _parse_time(value: Any) -> datetime | None:
    """Parse an RFC 3339 time as Go writes it; Go's zero time (year 1) means "never"."""
    if value is None:
        return None
    if isinstance(value, datetime):
        dt = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return None if dt.year == 1 else dt
    if not isinstance(value, str):
        raise ValueError("a time must be an RFC 3339 string")
    m = _RFC3339.match(value)
    if not m:
        raise ValueError("not an RFC 3339 time")
    year, month, day, hour, minute, second = (int(m.group(i)) for i in range(1, 7))
    if year == 1:
        return None
    # Go writes nanoseconds; Python keeps microseconds.
    micro = int((m.group(7) or "0").ljust(6, "0")[:6])
    zone = m.group(8).upper()
    if zone == "Z":
        tz = timezone.utc
    else:
        sign = -1 if zone[0] == "-" else 1
        tz = timezone(sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
    try:
        return datetime(year, month, day, hour, minute, second, micro, tzinfo=tz)
    except ValueError:
        raise ValueError("not a valid RFC 3339 time") from None


def _format_time(dt: datetime | None) -> str:
    if dt is None:
        return _ZERO_TIME
    return dt.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _parse_version(value: Any) -> str:
    """Accept ``"3.6.24"`` (what controllers send) or the schema's Number object."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        parts: dict[str, Any] = {str(k).lower(): v for k, v in value.items()}  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
        nums = {k: parts.get(k, 0) for k in ("major", "minor", "patch", "build")}
        tag = parts.get("tag", "")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in nums.values()):
            raise ValueError("version numbers must be integers")
        if not isinstance(tag, str):
            raise ValueError("version tag must be a string")
        # The same rendering as Go's version.Number.String().
        if tag:
            text = f"{nums['major']}.{nums['minor']}-{tag}{nums['patch']}"
        else:
            text = f"{nums['major']}.{nums['minor']}.{nums['patch']}"
        if nums["build"] > 0:
            text += f".{nums['build']}"
        return text
    raise ValueError("version must be a string or a version object")


WireTime = Annotated[datetime | None, BeforeValidator(_parse_time)]
WireVersion = Annotated[str, BeforeValidator(_parse_version)]


def _validation_detail(err: ValidationError) -> str:
    """Describe a validation failure by field and reason only, never by the value received."""
    parts: list[str] = []
    for e in err.errors(include_url=False, include_context=False, include_input=False):
        loc = ".".join(str(p) for p in e["loc"]) or "answer"
        parts.append(f"{loc}: {e['msg']}")
    return "; ".join(parts)


class _WireModel(BaseModel):
    # Strict: a value of the wrong JSON type is a malformed answer, not something to coerce.
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True, strict=True)


class BackupMetadata(_WireModel):
    """Metadata of one controller backup (Backups' ``BackupsMetadataResult``).

    Times that Go sends as its zero time (year 1) are ``None``. ``version`` is the Juju
    version as text whether the controller sent a string or a version object.
    """

    id: str
    checksum: str
    checksum_format: str = Field(alias="checksum-format")
    size: int = Field(ge=0)
    stored: WireTime
    started: WireTime
    finished: WireTime
    notes: str
    model: str
    machine: str
    hostname: str
    version: WireVersion
    series: str | None = None
    base: str | None = None
    filename: str | None = None
    format_version: int | None = Field(default=None, alias="format-version")
    controller_uuid: str | None = Field(default=None, alias="controller-uuid")
    controller_machine_id: str | None = Field(default=None, alias="controller-machine-id")
    controller_machine_inst_id: str | None = Field(
        default=None, alias="controller-machine-inst-id"
    )
    ha_nodes: int | None = Field(default=None, alias="ha-nodes")

    @model_validator(mode="before")
    @classmethod
    def _drop_ca_material(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            raise ValueError("backup metadata must be an object")
        return {
            k: v
            for k, v in data.items()  # pyright: ignore[reportUnknownVariableType]
            if k not in _DROPPED
        }

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> BackupMetadata:
        """Parse a controller's (or a stored) metadata object.

        Args:
            data: the JSON object, with kebab-case keys (snake_case names are accepted too).

        Returns:
            The metadata, without any CA material.

        Raises:
            ProtocolError: a required field is missing or a value has the wrong type.
        """
        try:
            return cls.model_validate(data)
        except ValidationError as e:
            raise ProtocolError(f"malformed backup metadata: {_validation_detail(e)}") from None

    def to_wire(self) -> dict[str, Any]:
        """Return the metadata as the controller writes it: kebab-case keys, JSON types.

        Fields the controller did not send are left out; times are RFC 3339 strings (Go's
        zero time for ``None``), so ``from_wire(m.to_wire()) == m``.
        """
        data = self.model_dump(by_alias=True, exclude_none=True)
        for name in ("stored", "started", "finished"):
            data[name] = _format_time(getattr(self, name))
        return data


class ModelSummary(_WireModel):
    """One model the user can see, from ``ModelManager.ListModels``.

    ``owner`` is the owner's user name (from ``owner-tag``, Juju up to 3.6); Juju 4.0 sends a
    ``qualifier`` instead. ``is_controller`` is ``None``: ListModels does not say.
    """

    name: str
    uuid: str
    type: str = "iaas"
    owner: str | None = None
    qualifier: str | None = None
    is_controller: bool | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_owner_tag(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            raise ValueError("a model must be an object")
        out: dict[str, Any] = dict(data)  # pyright: ignore[reportUnknownArgumentType]
        tag = out.pop("owner-tag", None)
        if tag is not None:
            if not isinstance(tag, str):
                raise ValueError("owner-tag must be a string")
            out["owner"] = tag.removeprefix("user-")
        return out

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> ModelSummary:
        """Parse a ``Model`` object of a ListModels answer.

        Raises:
            ProtocolError: a required field is missing or has the wrong type.
        """
        try:
            return cls.model_validate(data)
        except ValidationError as e:
            raise ProtocolError(f"malformed model summary: {_validation_detail(e)}") from None


@dataclass(frozen=True)
class RemoveResult:
    """The outcome of removing one backup: ``error`` is ``None`` when it was removed."""

    id: str
    error: APIError | None = None


@dataclass(frozen=True)
class DownloadResult:
    """A downloaded, verified archive: where it is, its size and base64 SHA-1."""

    path: Path
    size: int
    checksum: str
