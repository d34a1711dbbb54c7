"""charmcraft.yaml, config.yaml and actions.yaml against the code that uses them.

Every option and action the code uses must be declared, and every declared one must be used:
the config model's fields are the options, the observed action events are the actions, and the
params classes the handlers load are the actions' params.
"""

from __future__ import annotations

import ast
import typing
from pathlib import Path
from typing import Any

import pydantic
import pytest
import yaml

import charm
import config

ROOT = Path(__file__).resolve().parents[2]
CHARM_SOURCE = ROOT / "src" / "charm.py"
JUJU_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "int": (int,),
    "integer": (int,),  # actions.yaml params are JSON Schema, config.yaml options are not
    "float": (float,),
    "boolean": (bool,),
    "secret": (object,),  # ops hands over an ops.Secret
}


def load(name: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / name).read_text())


def juju_name(field: str) -> str:
    return field.replace("_", "-")


def observed_actions() -> dict[str, str]:
    """Map each action whose event charm.py observes to the handler method's name."""
    found: dict[str, str] = {}
    for node in ast.walk(ast.parse(CHARM_SOURCE.read_text())):
        if not (isinstance(node, ast.Call) and _is_observe(node) and len(node.args) == 2):
            continue
        event, handler = node.args
        if (
            isinstance(event, ast.Attribute)
            and event.attr.endswith("_action")
            and isinstance(handler, ast.Attribute)
        ):
            found[juju_name(event.attr.removesuffix("_action"))] = handler.attr
    return found


def _is_observe(node: ast.Call) -> bool:
    return isinstance(node.func, ast.Attribute) and node.func.attr == "observe"


def handler_params_classes() -> dict[str, list[str]]:
    """Map each method of the charm to the classes it passes to load_params."""
    tree = ast.parse(CHARM_SOURCE.read_text())
    found: dict[str, list[str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            for call in ast.walk(node):
                if (
                    isinstance(call, ast.Call)
                    and isinstance(call.func, ast.Attribute)
                    and call.func.attr == "load_params"
                    and call.args
                    and isinstance(call.args[0], ast.Name)
                ):
                    found.setdefault(node.name, []).append(call.args[0].id)
    return found


def field_types(model: type[pydantic.BaseModel], name: str) -> tuple[type, ...]:
    annotation = typing.get_type_hints(model)[name]
    args = typing.get_args(annotation)
    if not args:
        return (annotation,) if annotation is not Any else (object,)
    return tuple(a for a in args if a is not type(None))


# -- charmcraft.yaml ---------------------------------------------------------------------------


def test_charmcraft_yaml_describes_the_charm() -> None:
    meta = load("charmcraft.yaml")

    assert meta["type"] == "charm"
    assert meta["name"] == "juju-backups"
    assert meta["title"]
    assert meta["summary"]
    assert meta["description"]
    assert set(meta["platforms"]) == {
        "ubuntu@22.04:amd64",
        "ubuntu@22.04:arm64",
        "ubuntu@24.04:amd64",
        "ubuntu@24.04:arm64",
    }
    # Multi-base platforms carry the base; a top-level one would contradict them.
    assert "base" not in meta
    assert "bases" not in meta
    assert meta["assumes"] == ["juju >= 3.4"]
    (part,) = meta["parts"].values()
    assert part["plugin"] == "uv"
    assert part["source"] == "."
    assert "astral-uv" in part["build-snaps"]
    for key in ("documentation", "issues", "source", "website"):
        assert "juju-backups" in str(meta["links"][key])


def test_charmcraft_yaml_leaves_config_and_actions_to_their_files() -> None:
    # charmcraft refuses the same key in charmcraft.yaml and config.yaml/actions.yaml.
    meta = load("charmcraft.yaml")

    assert "config" not in meta
    assert "actions" not in meta


def test_description_tells_the_operator_how_to_set_up() -> None:
    description = load("charmcraft.yaml")["description"]

    for step in (
        "juju add-user backups",
        "juju grant backups superuser",
        "juju add-secret",
        "juju grant-secret",
        "juju config juju-backups credentials=secret:",
        "create-backup",
    ):
        assert step in description


def test_the_backups_relation_is_the_one_the_charm_provides() -> None:
    meta = load("charmcraft.yaml")

    assert meta["provides"] == {charm.RELATION: {"interface": "juju_backups"}}
    # A requirer or a peer endpoint would be a way into the charm nobody reviewed.
    assert "requires" not in meta
    assert "peers" not in meta
    providers = [
        node
        for node in ast.walk(ast.parse(CHARM_SOURCE.read_text()))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "BackupsProvider"
    ]
    assert len(providers) == 1
    endpoint = providers[0].args[1]
    assert isinstance(endpoint, ast.Name)
    assert endpoint.id == "RELATION"


def test_archives_storage_is_the_one_the_charm_uses() -> None:
    storage = load("charmcraft.yaml")["storage"]

    assert set(storage) == {charm.STORAGE}
    archives = storage[charm.STORAGE]
    assert archives["type"] == "filesystem"
    assert archives["location"].startswith("/")
    assert archives["minimum-size"]
    assert "multiple" not in archives  # the charm uses exactly one


# -- config.yaml -------------------------------------------------------------------------------


def test_every_option_is_a_config_field_and_the_reverse() -> None:
    options = load("config.yaml")["options"]

    assert set(options) == {juju_name(f) for f in config.CharmConfig.model_fields}


@pytest.mark.parametrize("field", sorted(config.CharmConfig.model_fields))
def test_option_type_and_default_match_the_field(field: str) -> None:
    option = load("config.yaml")["options"][juju_name(field)]
    info = config.CharmConfig.model_fields[field]

    assert option["description"].strip()
    accepted = JUJU_TYPES[option["type"]]
    assert any(issubclass(t, accepted) for t in field_types(config.CharmConfig, field))
    if option["type"] == "secret":
        assert "default" not in option  # a secret cannot have a default
        assert info.default is None
    else:
        assert option["default"] == info.default


def test_config_yaml_defaults_are_valid() -> None:
    options = load("config.yaml")["options"]
    defaults = {
        name.replace("-", "_"): option["default"]
        for name, option in options.items()
        if "default" in option
    }

    loaded = config.CharmConfig(**defaults)

    assert loaded.credentials is None


def test_secret_keys_in_the_description_are_the_parsed_keys() -> None:
    description = load("config.yaml")["options"]["credentials"]["description"]
    keys = {f.alias or f_name for f_name, f in config.Credentials.model_fields.items()}

    assert keys == {"username", "password", "endpoints", "ca-cert"}
    for key in keys:
        assert key in description


def test_charm_reads_config_only_through_the_model() -> None:
    # Options read as self.config[...] would escape the declared-vs-used check above.
    tree = ast.parse(CHARM_SOURCE.read_text())
    raw_reads = [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and node.attr == "config"
        and isinstance(node.value, ast.Name)
        and node.value.id == "self"
    ]

    assert raw_reads == []
    assert "load_config(CharmConfig" in CHARM_SOURCE.read_text()


# -- actions.yaml ------------------------------------------------------------------------------


def test_every_action_is_observed_and_the_reverse() -> None:
    assert set(load("actions.yaml")) == set(observed_actions())


@pytest.mark.parametrize("action", sorted(load("actions.yaml")))
def test_action_params_are_the_loaded_params(action: str) -> None:
    spec = load("actions.yaml")[action]
    handler = observed_actions()[action]
    (class_name,) = handler_params_classes()[handler]
    params_class = getattr(charm, class_name)

    assert spec["description"].strip()
    assert spec.get("additionalProperties") is False
    declared = spec.get("params", {})
    assert set(declared) == {juju_name(f) for f in params_class.model_fields}
    for name, param in declared.items():
        field = name.replace("-", "_")
        assert param["description"].strip()
        accepted = JUJU_TYPES[param["type"]]
        assert any(issubclass(t, accepted) for t in field_types(params_class, field))
        # A declared default would shadow the config fallback the charm applies.
        assert "default" not in param


def test_charm_reads_params_only_through_load_params() -> None:
    tree = ast.parse(CHARM_SOURCE.read_text())
    raw_reads = [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr == "params"
    ]

    assert raw_reads == []


def test_the_checks_above_can_see_the_charm() -> None:
    # Guards the AST helpers: if they found nothing, the "and the reverse" tests would pass
    # on an empty charm.
    observed = observed_actions()
    assert observed["create-backup"] == "_on_create_backup_action"
    assert observed["prune-backups"] == "_on_prune_backups_action"
    assert handler_params_classes()["_on_create_backup_action"] == ["CreateBackupParams"]
    assert handler_params_classes()["_on_prune_backups_action"] == ["PruneBackupsParams"]
