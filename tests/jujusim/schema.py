"""The real facade schemas of each Juju release, used to check every request and answer."""

from __future__ import annotations

import copy
import datetime
import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for

from .versions import version_key

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "data" / "juju-schema"

_FORMATS = jsonschema.FormatChecker(formats=())


@_FORMATS.checks("date-time", raises=ValueError)
def _is_rfc3339(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if "T" not in value or not (value.endswith("Z") or value[-6] in "+-"):
        raise ValueError(f"{value!r} is not an RFC 3339 time")
    # Go writes up to nine fractional digits; Python's parser takes at most six.
    head, _, rest = value.partition(".")
    if rest:
        digits = "".join(c for c in rest if c.isdigit())
        value = head + "." + digits[:6].ljust(6, "0") + rest[len(digits) :]
    datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return True


@dataclass(frozen=True)
class SchemaFile:
    file: str
    facade: str
    facade_version: int
    methods: tuple[str, ...]
    juju_versions: tuple[str, ...]

    def lowest(self) -> str:
        return min(self.juju_versions, key=version_key)

    def highest(self) -> str:
        return max(self.juju_versions, key=version_key)


@functools.cache
def index() -> tuple[SchemaFile, ...]:
    entries = json.loads((SCHEMA_DIR / "index.json").read_text())
    return tuple(
        SchemaFile(
            file=e["file"],
            facade=e["facade"],
            facade_version=e["facade_version"],
            methods=tuple(e["methods"]),
            juju_versions=tuple(e["juju_versions"]),
        )
        for e in entries
    )


def pick(facade: str, facade_version: int, juju_version: str) -> SchemaFile:
    """The schema file a release served for a facade version.

    The release's own file when index.json lists it; otherwise the file whose release range
    spans it, then the newest file older than it, then the oldest file there is (for example
    2.3 releases: there is no Admin, Pinger or ModelManager schema older than 2.8 here, so the
    oldest one stands in for them).
    """
    candidates = [e for e in index() if e.facade == facade and e.facade_version == facade_version]
    if not candidates:
        raise LookupError(f"no schema for {facade} v{facade_version}")
    target = version_key(juju_version)
    exact = [e for e in candidates if juju_version in e.juju_versions]
    if exact:
        return exact[0]
    spanning = [
        e for e in candidates if version_key(e.lowest()) <= target <= version_key(e.highest())
    ]
    if spanning:
        return spanning[0]
    older = [e for e in candidates if version_key(e.highest()) < target]
    if older:
        return max(older, key=lambda e: version_key(e.highest()))
    return min(candidates, key=lambda e: version_key(e.lowest()))


@dataclass(frozen=True)
class Problem:
    """One way a request's params stray from the schema."""

    text: str
    # A wrong JSON type is an error for Go's decoder; unknown fields and nulls are not.
    rejected: bool
    go_error: str = ""


@dataclass
class FacadeSchema:
    """One facade version's schema, with two views: strict for answers, Go-like for requests."""

    file: SchemaFile
    raw: dict[str, Any]
    _validators: dict[tuple[str, str], Validator] = field(default_factory=dict)

    @property
    def methods(self) -> frozenset[str]:
        return frozenset(self.raw["Schema"]["properties"])

    def has_params(self, method: str) -> bool:
        return "Params" in self.raw["Schema"]["properties"][method].get("properties", {})

    def has_result(self, method: str) -> bool:
        return "Result" in self.raw["Schema"]["properties"][method].get("properties", {})

    def result_properties(self, method: str) -> frozenset[str]:
        """The field names the method's result object may carry."""
        ref = self.raw["Schema"]["properties"][method]["properties"]["Result"]["$ref"]
        definition = self.raw["Schema"]["definitions"][ref.rsplit("/", 1)[1]]
        return frozenset(definition.get("properties", {}))

    def definition_properties(self, name: str) -> frozenset[str]:
        return frozenset(self.raw["Schema"]["definitions"][name].get("properties", {}))

    def params_type_name(self, method: str) -> str:
        ref = self.raw["Schema"]["properties"][method]["properties"]["Params"]["$ref"]
        return ref.rsplit("/", 1)[1]

    def _validator(self, method: str, part: str) -> Validator:
        key = (method, part)
        if key not in self._validators:
            root = _answer_view(self.raw) if part == "Result" else _request_view(self.raw)
            sub = dict(root["Schema"]["properties"][method]["properties"][part])
            sub["definitions"] = root["Schema"].get("definitions", {})
            cls = validator_for(sub, default=jsonschema.Draft7Validator)
            self._validators[key] = cls(sub, format_checker=_FORMATS)
        return self._validators[key]

    def check_value(self, definition: str, value: Any) -> list[Problem]:
        """Check a value sent to the controller against one of the schema's definitions."""
        key = ("#definition", definition)
        if key not in self._validators:
            root = _request_view(self.raw)
            sub = {
                "$ref": f"#/definitions/{definition}",
                "definitions": root["Schema"]["definitions"],
            }
            self._validators[key] = jsonschema.Draft7Validator(sub, format_checker=_FORMATS)
        return self._problems(self._validators[key], value, definition)

    def _problems(self, validator: Validator, value: Any, type_name: str) -> list[Problem]:
        problems: list[Problem] = []
        for err in validator.iter_errors(value):
            where = "/".join(str(p) for p in err.absolute_path) or "params"
            wrong_type = err.validator == "type" and err.instance is not None
            go_error = ""
            if wrong_type:
                schema = err.schema if isinstance(err.schema, dict) else {}
                go_error = _go_unmarshal_error(err.instance, schema, type_name, err.absolute_path)
            problems.append(Problem(f"{where}: {err.message}", wrong_type, go_error))
        return problems

    def check_params(self, method: str, params: Any) -> list[Problem]:
        """What a real controller's decoder would make of these params.

        Go's encoding/json ignores unknown fields, takes a missing field or a null as the zero
        value, and fails on a value of the wrong JSON type. The schema's "required" only marks
        Go fields without omitempty, so a missing field is no fault of the client. Unknown
        fields and nulls are accepted but still reported: they are the mark of a client that
        misspells a field or sends one the release does not know (a silently ignored
        "keep-copy").
        """
        if not self.has_params(method):
            return []
        return self._problems(
            self._validator(method, "Params"), params, self.params_type_name(method)
        )

    def project_result(self, method: str, result: Any) -> Any:
        """Keep only the fields this facade version's result carries, at every depth."""
        node = self.raw["Schema"]["properties"][method]["properties"]["Result"]
        return _project(_answer_view(self.raw), node, result)

    def check_result(self, method: str, result: Any) -> list[str]:
        if not self.has_result(method):
            return [] if result == {} else [f"answer to a method without result: {result!r}"]
        return [
            f"{'/'.join(str(p) for p in err.absolute_path) or 'response'}: {err.message}"
            for err in self._validator(method, "Result").iter_errors(result)
        ]


def _go_json_kind(value: object) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _go_unmarshal_error(value: object, schema: dict[str, Any], type_name: str, path: Any) -> str:
    go_types = {"string": "string", "boolean": "bool", "integer": "int64", "array": "[]"}
    expected = schema.get("type", "object")
    go_type = go_types.get(expected, "struct")
    parts = [str(p) for p in path if not isinstance(p, int)]
    if parts:
        return (
            f"json: cannot unmarshal {_go_json_kind(value)} into Go struct field "
            f"{type_name}.{'.'.join(parts)} of type {go_type}"
        )
    return (
        f"json: cannot unmarshal {_go_json_kind(value)} into Go value of type params.{type_name}"
    )


@functools.cache
def _wire_view_cached(text: str) -> dict[str, Any]:
    """The schema as the wire really is, both ways."""
    schema = json.loads(text)
    definitions = schema["Schema"].setdefault("definitions", {})
    # The two places where the published schemas and the wire disagree, and only those:
    # 1. BackupsMetadataResult.version is a Go version.Number, which marshals itself as a
    #    string ("3.6.24") although the schema generator describes its struct.
    meta = definitions.get("BackupsMetadataResult")
    if meta is not None and "version" in meta.get("properties", {}):
        meta["properties"]["version"] = {"type": "string", "pattern": r"^\d+\.\d+[.-]\w+"}
    # 2. HostPort embeds Address; Go flattens an embedded struct into the outer object, so
    #    the "Address" member the generator lists never appears on the wire.
    host_port = definitions.get("HostPort")
    if host_port is not None:
        host_port["required"] = [r for r in host_port.get("required", []) if r != "Address"]
        host_port.get("properties", {}).pop("Address", None)
    return schema


@functools.cache
def _request_view_cached(text: str) -> dict[str, Any]:
    """Requests: Go's decoder takes a missing field as its zero value, so nothing is required."""
    schema = copy.deepcopy(_wire_view_cached(text))

    def strip_required(node: object) -> None:
        if isinstance(node, dict):
            node.pop("required", None)
            for value in node.values():
                strip_required(value)
        elif isinstance(node, list):
            for value in node:
                strip_required(value)

    strip_required(schema)
    return schema


def _request_view(raw: dict[str, Any]) -> dict[str, Any]:
    return _request_view_cached(json.dumps(raw, sort_keys=True))


def _answer_view(raw: dict[str, Any]) -> dict[str, Any]:
    return _wire_view_cached(json.dumps(raw, sort_keys=True))


@functools.cache
def load(file: str) -> dict[str, Any]:
    return json.loads((SCHEMA_DIR / file).read_text())


def facade_schema(facade: str, facade_version: int, juju_version: str) -> FacadeSchema:
    entry = pick(facade, facade_version, juju_version)
    return FacadeSchema(file=entry, raw=copy.deepcopy(load(entry.file)))


def _resolve(root: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = root["Schema"]["definitions"][node["$ref"].rsplit("/", 1)[1]]
    return node


def _project(root: dict[str, Any], node: dict[str, Any], value: Any) -> Any:
    node = _resolve(root, node)
    if isinstance(value, dict) and node.get("additionalProperties") is False:
        props = node.get("properties", {})
        return {k: _project(root, props[k], v) for k, v in value.items() if k in props}
    if isinstance(value, list) and isinstance(node.get("items"), dict):
        return [_project(root, node["items"], v) for v in value]
    return value
