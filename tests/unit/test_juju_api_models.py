"""BackupMetadata and ModelSummary parsing, against every real schema of the project."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from juju_api import BackupMetadata, ModelSummary, ProtocolError

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "data" / "juju-schema"
CA_KEY = "-----BEGIN RSA PRIVATE KEY-----\nMIIEsecretsecret\n-----END RSA PRIVATE KEY-----\n"
CA_CERT = "-----BEGIN CERTIFICATE-----\nMIIBcertcert\n-----END CERTIFICATE-----\n"


def _schema_files(facade: str) -> list[Path]:
    return sorted(SCHEMA_DIR.glob(f"{facade}-v*.json"))


def _definition(path: Path, name: str) -> dict[str, Any]:
    return json.loads(path.read_text())["Schema"]["definitions"][name]


def _sample(name: str, prop: dict[str, Any]) -> Any:
    """A plausible wire value for one schema property, as a real controller sends it."""
    if name == "version":  # version.Number marshals as a string, whatever the schema says
        return "2.9.22"
    if name == "ca-private-key":
        return CA_KEY
    if name == "ca-cert":
        return CA_CERT
    if prop.get("format") == "date-time":
        return "2024-05-06T07:08:09.123456789Z"
    kind = prop.get("type")
    if kind == "integer":
        return 7
    if kind == "boolean":
        return True
    return f"{name}-value"


def full_wire(path: Path) -> dict[str, Any]:
    props = _definition(path, "BackupsMetadataResult")["properties"]
    return {name: _sample(name, prop) for name, prop in props.items()}


BACKUP_SCHEMAS = _schema_files("backups")


def test_there_are_backup_schemas_to_check():
    assert len(BACKUP_SCHEMAS) >= 8


@pytest.mark.parametrize("path", BACKUP_SCHEMAS, ids=lambda p: p.name)
def test_every_schema_field_is_parsed_and_written_back(path: Path):
    wire = full_wire(path)
    meta = BackupMetadata.from_wire(wire)
    out = meta.to_wire()
    expected = {k for k in wire if k not in ("ca-cert", "ca-private-key")}
    assert set(out) == expected
    for key in expected - {"stored", "started", "finished"}:
        assert out[key] == wire[key], key
    assert meta.started == datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=timezone.utc)
    assert out["started"] == "2024-05-06T07:08:09.123456Z"


@pytest.mark.parametrize("path", BACKUP_SCHEMAS, ids=lambda p: p.name)
def test_required_fields_of_every_schema_are_required(path: Path):
    definition = _definition(path, "BackupsMetadataResult")
    wire = full_wire(path)
    required = set(definition["required"]) - {"ca-cert", "ca-private-key"}
    # Fields that not every release sends stay optional in the model.
    always = {
        "id", "checksum", "checksum-format", "size", "stored", "started", "finished", "notes",
        "model", "machine", "hostname", "version",
    }  # fmt: skip
    for field in required & always:
        broken = {k: v for k, v in wire.items() if k != field}
        with pytest.raises(ProtocolError) as exc:
            BackupMetadata.from_wire(broken)
        assert field in str(exc.value)


def test_model_covers_the_union_of_schema_fields():
    union: set[str] = set()
    for path in BACKUP_SCHEMAS:
        union |= set(_definition(path, "BackupsMetadataResult")["properties"])
    aliases = {f.alias or name for name, f in BackupMetadata.model_fields.items()}
    assert union - {"ca-cert", "ca-private-key"} == aliases


def test_ca_material_is_dropped_everywhere():
    wire = full_wire(SCHEMA_DIR / "backups-v2-juju-2.8.1_to_2.9.21.json")
    meta = BackupMetadata.from_wire(wire)
    for text in (repr(meta), str(meta), json.dumps(meta.to_wire()), meta.model_dump_json()):
        assert "PRIVATE KEY" not in text
        assert "MIIEsecret" not in text
        assert "MIIBcert" not in text
    assert "ca-private-key" not in meta.model_dump(by_alias=True)
    assert not hasattr(meta, "ca_private_key")
    # The caller's dict is left alone.
    assert wire["ca-private-key"] == CA_KEY


def test_ca_material_is_dropped_by_name_too():
    wire = full_wire(SCHEMA_DIR / "backups-v1-juju-2.0.0_to_2.3-alpha1.json")
    wire["ca_private_key"] = CA_KEY
    meta = BackupMetadata.model_validate(wire)
    assert "PRIVATE KEY" not in repr(meta) + meta.model_dump_json()


def test_malformed_answer_error_never_echoes_the_key():
    wire = full_wire(SCHEMA_DIR / "backups-v2-juju-2.8.1_to_2.9.21.json")
    wire["size"] = "big"
    wire["notes"] = CA_KEY  # a value that gets into the error must not be shown
    wire["hostname"] = 5
    with pytest.raises(ProtocolError) as exc:
        BackupMetadata.from_wire(wire)
    text = f"{exc.value} {exc.value!r} {exc.value.args}"
    assert "size" in text
    assert "hostname" in text
    assert "PRIVATE KEY" not in text
    assert "MIIEsecret" not in text
    assert "big" not in text
    assert exc.value.__cause__ is None
    assert exc.value.__suppress_context__


@pytest.mark.parametrize(
    "bad",
    [
        {"size": -1},
        {"size": True},
        {"size": 1.5},
        {"stored": "yesterday"},
        {"started": 12},
        {"finished": "2024-02-30T00:00:00Z"},
        {"version": 3},
        {"version": {"Major": "3", "Minor": 6, "Patch": 1, "Build": 0, "Tag": ""}},
        {"ha-nodes": "3"},
        {"format-version": None, "id": None},
    ],
)
def test_wrong_types_are_protocol_errors(bad: dict[str, Any]):
    wire = full_wire(SCHEMA_DIR / "backups-v3-juju-3.6.1_to_3.6.27.json") | bad
    with pytest.raises(ProtocolError):
        BackupMetadata.from_wire(wire)


def test_not_an_object_is_a_protocol_error():
    with pytest.raises(ProtocolError):
        BackupMetadata.from_wire(["id"])  # type: ignore[arg-type]


def test_zero_time_is_none_and_round_trips():
    wire = full_wire(SCHEMA_DIR / "backups-v3-juju-3.6.1_to_3.6.27.json")
    wire["stored"] = "0001-01-01T00:00:00Z"
    meta = BackupMetadata.from_wire(wire)
    assert meta.stored is None
    assert meta.to_wire()["stored"] == "0001-01-01T00:00:00Z"
    assert BackupMetadata.from_wire(meta.to_wire()) == meta


def test_time_zones_and_nanoseconds():
    wire = full_wire(SCHEMA_DIR / "backups-v3-juju-3.6.1_to_3.6.27.json")
    wire["finished"] = "2024-05-06T09:08:09.5+02:00"
    wire["started"] = "2024-05-06T07:08:09Z"
    meta = BackupMetadata.from_wire(wire)
    assert meta.finished == datetime(2024, 5, 6, 7, 8, 9, 500000, tzinfo=timezone.utc)
    assert meta.finished is not None
    assert meta.finished.utcoffset() == timedelta(hours=2)
    assert meta.to_wire()["finished"] == "2024-05-06T07:08:09.500000Z"


@pytest.mark.parametrize(
    ("number", "text"),
    [
        ({"Major": 2, "Minor": 8, "Patch": 11, "Build": 0, "Tag": ""}, "2.8.11"),
        ({"major": 3, "minor": 6, "patch": 27, "build": 0, "tag": ""}, "3.6.27"),
        ({"Major": 2, "Minor": 9, "Patch": 1, "Build": 0, "Tag": "rc"}, "2.9-rc1"),
        ({"Major": 2, "Minor": 3, "Patch": 4, "Build": 2, "Tag": ""}, "2.3.4.2"),
        ("3.6.24", "3.6.24"),
    ],
)
def test_version_as_string_or_object(number: Any, text: str):
    wire = full_wire(SCHEMA_DIR / "backups-v1-juju-2.0.0_to_2.3-alpha1.json")
    wire["version"] = number
    assert BackupMetadata.from_wire(wire).version == text


def test_unknown_fields_from_newer_controllers_are_ignored():
    wire = full_wire(SCHEMA_DIR / "backups-v3-juju-4.0.0_to_4.0.14.json")
    wire["some-future-field"] = {"x": 1}
    meta = BackupMetadata.from_wire(wire)
    assert "some-future-field" not in meta.to_wire()


def test_metadata_is_frozen_and_populates_by_name():
    wire = full_wire(SCHEMA_DIR / "backups-v3-juju-3.6.1_to_3.6.27.json")
    meta = BackupMetadata.from_wire(wire)
    with pytest.raises(Exception, match="frozen"):
        meta.id = "other"  # type: ignore[misc]
    by_name = BackupMetadata(**meta.model_dump())
    assert by_name == meta


def test_wire_of_older_release_omits_newer_fields():
    wire = full_wire(SCHEMA_DIR / "backups-v1-juju-2.0.0_to_2.3-alpha1.json")
    meta = BackupMetadata.from_wire(wire)
    assert meta.filename is None
    assert meta.controller_uuid is None
    assert meta.base is None
    assert "filename" not in meta.to_wire()
    assert meta.series == "series-value"


# -- ModelSummary ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", _schema_files("modelmanager"), ids=lambda p: p.name)
def test_model_summary_of_every_modelmanager_schema(path: Path):
    props = _definition(path, "Model")["properties"]
    wire = {name: _sample(name, prop) for name, prop in props.items()}
    if "owner-tag" in wire:
        wire["owner-tag"] = "user-admin"
    summary = ModelSummary.from_wire(wire)
    assert summary.name == "name-value"
    assert summary.uuid == "uuid-value"
    assert summary.type == "type-value"
    if "owner-tag" in props:
        assert (summary.owner, summary.qualifier) == ("admin", None)
    else:
        assert (summary.owner, summary.qualifier) == (None, "qualifier-value")
    assert summary.is_controller is None


def test_model_summary_without_type_is_iaas():
    summary = ModelSummary.from_wire({"name": "controller", "uuid": "u", "owner-tag": "user-a"})
    assert summary.type == "iaas"


@pytest.mark.parametrize(
    "wire",
    [
        {"uuid": "u", "type": "iaas"},
        {"name": 1, "uuid": "u", "type": "iaas"},
        {"name": "n", "uuid": "u", "type": "iaas", "owner-tag": 5},
        "controller",
    ],
)
def test_malformed_model_summary(wire: Any):
    with pytest.raises(ProtocolError):
        ModelSummary.from_wire(wire)
