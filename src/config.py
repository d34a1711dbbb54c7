"""The charm's typed configuration and the content of its credentials secret.

Plain pydantic, no ops: ``CharmConfig`` is what ``CharmBase.load_config`` fills in (ops hands
the ``credentials`` option over as an ``ops.Secret``), ``parse_credentials`` checks what the
operator put in that secret.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any

import pydantic
from pydantic import BaseModel, ConfigDict, Field, field_validator

from notes import validate as validate_notes_template
from schedule import parse as parse_schedule

TIMEOUT_RANGE = (5, 3600)
CREATE_TIMEOUT_RANGE = (60, 86400)
MAX_RETENTION_DAYS = 36500
MAX_REMOVE_IDS = 100
MAX_REMOVE_TEXT = 10_000
RESTORE_TIMEOUT_RANGE = (10, 86400)
RESTORE_TIMEOUT_DEFAULT = 1800
DEFAULT_SCHEDULE = "@daily"
DEFAULT_NOTES_TEMPLATE = "{trigger} backup of {controller} by {unit} at {timestamp}"
DEFAULT_RETENTION_COUNT = 7

# Control characters other than the whitespace that separates ids.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_PEM_CERT = re.compile(
    r"-----BEGIN CERTIFICATE-----(?P<body>.*?)-----END CERTIFICATE-----", re.DOTALL
)
# host:port with a DNS name, an IPv4 address or a bracketed IPv6 address.
_HOST_PORT = re.compile(
    r"(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)"
    r":(?P<port>[0-9]{1,5})"
)


class CharmConfig(BaseModel):
    """The charm's config options (see config.yaml), dashes turned into underscores.

    Attributes:
        credentials: the ``credentials`` secret (an ``ops.Secret``), None while unset.
        keep_copy: ask 2.x controllers to keep their own copy of each backup.
        controller_model_uuid: the controller model's UUID, "" to look it up.
        timeout: seconds for each API call.
        create_timeout: seconds for the controller to build a backup.
        schedule: when the leader takes backups (cron or @macro), normalised; "" = never.
        notes_template: the notes of every backup the charm starts (see notes.py).
        retention_count: keep this many newest archives of the application; 0 = no limit.
        retention_days: prune the application's archives older than this; 0 = no limit.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True, extra="ignore")

    # Any rather than ops.Secret keeps ops out of this module; ops builds the object itself.
    credentials: Any = None
    keep_copy: bool = False
    controller_model_uuid: str = ""
    timeout: int = 60
    create_timeout: int = 1800
    schedule: str = DEFAULT_SCHEDULE
    notes_template: str = DEFAULT_NOTES_TEMPLATE
    retention_count: int = DEFAULT_RETENTION_COUNT
    retention_days: int = 0

    @field_validator("controller_model_uuid")
    @classmethod
    def _check_uuid(cls, value: str) -> str:
        value = value.strip().lower()
        if value and not _UUID.fullmatch(value):
            raise ValueError(
                f"{value!r} is not a model UUID; set it to the UUID `juju show-model "
                "controller` prints, or to an empty string to let the charm find it"
            )
        return value

    @field_validator("timeout")
    @classmethod
    def _check_timeout(cls, value: int) -> int:
        return _in_range(value, *TIMEOUT_RANGE, default=60)

    @field_validator("create_timeout")
    @classmethod
    def _check_create_timeout(cls, value: int) -> int:
        return _in_range(value, *CREATE_TIMEOUT_RANGE, default=1800)

    @field_validator("schedule")
    @classmethod
    def _check_schedule(cls, value: str) -> str:
        parsed = parse_schedule(value)  # ScheduleError names the bad field
        return parsed.expr if parsed is not None else ""

    @field_validator("notes_template")
    @classmethod
    def _check_notes_template(cls, value: str) -> str:
        validate_notes_template(value)  # TemplateError names the bad part
        return value

    @field_validator("retention_count", "retention_days")
    @classmethod
    def _check_retention(cls, value: int) -> int:
        if value < 0:
            raise ValueError(f"{value} is negative: use 0 for no limit, or a positive number")
        return value

    @field_validator("retention_days")
    @classmethod
    def _check_retention_days(cls, value: int) -> int:
        # Far beyond any useful age; larger values overflow the date arithmetic.
        if value > MAX_RETENTION_DAYS:
            raise ValueError(
                f"{value} days is more than {MAX_RETENTION_DAYS} (100 years): use 0 for no limit"
            )
        return value


class CreateBackupParams(BaseModel):
    """The create-backup action's parameters (see actions.yaml).

    Attributes:
        notes: stored with the backup on the controller.
        keep_copy: ask the controller to keep a copy; None means "as the keep-copy option says".
    """

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    notes: str = ""
    keep_copy: bool | None = None


class PruneBackupsParams(BaseModel):
    """The prune-backups action's parameters (see actions.yaml).

    Attributes:
        dry_run: only say what the retention policy would remove (the default, so that
            running the action without thinking removes nothing).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    dry_run: bool = True


class ListBackupsParams(BaseModel):
    """The list-backups action's parameters (see actions.yaml).

    Attributes:
        format: ``table`` for people, ``json`` for scripts.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    format: str = "table"

    @field_validator("format")
    @classmethod
    def _check_format(cls, value: str) -> str:
        value = value.strip().lower()
        if value not in ("table", "json"):
            raise ValueError(f"format {value!r} is not known: use table or json")
        return value


class ShowBackupParams(BaseModel):
    """The show-backup action's parameters (see actions.yaml).

    Attributes:
        backup_id: the backup to show (see list-backups).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    backup_id: str


class RemoveBackupsParams(BaseModel):
    """The remove-backups action's parameters (see actions.yaml).

    Attributes:
        backup_ids: the backups to remove, separated by commas and/or spaces.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    backup_ids: str

    @field_validator("backup_ids")
    @classmethod
    def _check_backup_ids(cls, value: str) -> str:
        # Each id comes back in the results or the failure message, and Juju takes those as
        # command-line arguments (at most 128 KiB each): bound what one run can echo.
        count = len([i for i in re.split(r"[,\s]+", value) if i])
        if _CONTROL.search(value):
            raise ValueError(
                "holds a control character: backup ids are letters, digits, '.', '_' and '-', "
                "separated by commas or spaces"
            )
        if len(value) > MAX_REMOVE_TEXT or count > MAX_REMOVE_IDS:
            raise ValueError(
                f"at most {MAX_REMOVE_IDS} ids ({MAX_REMOVE_TEXT} characters) at a time, "
                f"not {count} ({len(value)} characters): remove them in several runs"
            )
        return value


class RestoreParams(BaseModel):
    """The restore action's parameters (see actions.yaml).

    Attributes:
        backup_id: the backup to restore (see list-backups).
        confirm: really restore; without it the action only says what it would do.
        timeout: seconds to wait for the controller to restore and come back.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    backup_id: str
    confirm: bool = False
    timeout: int = RESTORE_TIMEOUT_DEFAULT

    @field_validator("timeout")
    @classmethod
    def _check_timeout(cls, value: int) -> int:
        return _in_range(value, *RESTORE_TIMEOUT_RANGE, default=RESTORE_TIMEOUT_DEFAULT)


def _in_range(value: int, low: int, high: int, *, default: int) -> int:
    if not low <= value <= high:
        raise ValueError(
            f"{value} seconds is out of range: use {low} to {high} (default {default})"
        )
    return value


def config_error_message(error: ValueError) -> str:
    """Say which option is wrong and how to fix it, for a Blocked status.

    Pydantic's own text repeats the input and links to its documentation; this keeps the option
    name (as Juju spells it) and the validator's advice.

    Args:
        error: what ``CharmConfig(...)`` (or ``load_config``) raised.

    Returns:
        One line such as ``option timeout: 2 seconds is out of range: use 5 to 3600``.
    """
    if not isinstance(error, pydantic.ValidationError):
        return str(error)
    parts: list[str] = []
    for item in error.errors(include_url=False, include_input=False):
        option = "-".join(str(part) for part in item["loc"][:1]).replace("_", "-")
        message = _shorten(item["msg"].removeprefix("Value error, "))
        parts.append(f"option {option}: {message}" if option else message)
    return "; ".join(parts)


def _shorten(message: str, limit: int = 500) -> str:
    # Messages repeat the bad value; a huge one would not fit Juju's status or action-fail
    # (hook tools take their text as one command-line argument, at most 128 KiB).
    if len(message) <= limit:
        return message
    return f"{message[: limit - 25]}... ({len(message)} chars)"


class CredentialsError(ValueError):
    """The credentials secret's content is unusable; the message names the key and the fix."""


class Credentials(BaseModel):
    """The content of the ``credentials`` secret, checked.

    Attributes:
        username: a plain user name ("backups"), not a tag.
        password: never shown in repr or messages.
        endpoints: host:port API addresses; empty means the hosting controller's.
        ca_cert: the controller's CA certificate (PEM); None means the hosting controller's.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    username: str
    password: str = Field(repr=False)
    endpoints: tuple[str, ...] = ()
    ca_cert: str | None = Field(default=None, alias="ca-cert")

    @field_validator("username")
    @classmethod
    def _check_username(cls, value: str) -> str:
        value = value.strip()
        if value.startswith("user-"):
            value = value.removeprefix("user-")
        # Juju user names: letters, digits, dots, hyphens, plus "@domain" for external users.
        if len(value) > 255 or not re.fullmatch(
            r"[A-Za-z0-9][A-Za-z0-9.+-]*(@[A-Za-z0-9.-]+)?", value
        ):
            raise ValueError("must be a Juju user name such as 'backups'")
        return value

    @field_validator("password")
    @classmethod
    def _check_password(cls, value: str) -> str:
        if not value:
            raise ValueError("must not be empty")
        return value

    @field_validator("endpoints", mode="before")
    @classmethod
    def _split_endpoints(cls, value: object) -> object:
        if isinstance(value, str):
            return parse_endpoints(value)
        return value

    @field_validator("ca_cert")
    @classmethod
    def _check_ca_cert(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        return check_ca_cert(value)


def parse_endpoints(text: str) -> tuple[str, ...]:
    """Split "host:port, host:port" (commas and/or spaces) into checked addresses.

    Args:
        text: the addresses as an operator writes them.

    Returns:
        The addresses in order, without duplicates.

    Raises:
        ValueError: an address is not host:port with a port from 1 to 65535.
    """
    found: list[str] = []
    for item in re.split(r"[,\s]+", text.strip()):
        if not item:
            continue
        match = _HOST_PORT.fullmatch(item)
        if match is None or not 0 < int(match["port"]) < 65536:
            raise ValueError(
                f"{item!r} is not host:port; write the API addresses comma-separated, "
                "for example 10.0.0.1:17070,10.0.0.2:17070"
            )
        if item not in found:
            found.append(item)
    return tuple(found)


def check_ca_cert(pem: str) -> str:
    """Check that text looks like one or more PEM certificates and nothing secret.

    Args:
        pem: the text to check.

    Returns:
        The PEM, stripped, ending with a newline.

    Raises:
        ValueError: not a PEM certificate, or it contains a private key.
    """
    if "PRIVATE KEY" in pem:
        # Never echo it back: only say what it is.
        raise ValueError(
            "holds a private key; put only the CA certificate there (the ca-cert of "
            "`juju show-controller --show-password`) and keep the key out of the secret"
        )
    blocks = list(_PEM_CERT.finditer(pem))
    if not blocks:
        raise ValueError(
            "is not a PEM certificate (-----BEGIN CERTIFICATE----- ...); copy the ca-cert "
            "of `juju show-controller --show-password`"
        )
    for block in blocks:
        try:
            body = "".join(block["body"].split())
            if not base64.b64decode(body, validate=True):
                raise ValueError("empty")
        except (binascii.Error, ValueError):
            raise ValueError(
                "has a certificate block that is not valid base64; copy the ca-cert again"
            ) from None
    return pem.strip() + "\n"


def parse_credentials(content: Mapping[str, str]) -> Credentials:
    """Check the content of the credentials secret.

    Args:
        content: the secret's key/value pairs.

    Returns:
        The typed credentials.

    Raises:
        CredentialsError: the message names the secret key at fault and the fix; it never
            repeats a value.
    """
    try:
        return Credentials.model_validate(dict(content))
    except pydantic.ValidationError as error:
        problems: list[str] = []
        for item in error.errors(include_url=False, include_input=False):
            key = str(item["loc"][0]) if item["loc"] else ""
            key = "ca-cert" if key == "ca_cert" else key
            if item["type"] == "missing":
                problems.append(f"key {key!r} is missing")
            elif item["type"] == "extra_forbidden":
                problems.append(
                    f"key {key!r} is unknown (expected username, password, endpoints, ca-cert)"
                )
            else:
                reason = _shorten(item["msg"].removeprefix("Value error, "))
                problems.append(f"key {key!r} {reason}")
        # from None: the chained pydantic error would carry the values, password included.
        raise CredentialsError(
            "the credentials secret is not usable: " + "; ".join(problems)
        ) from None
