"""The simulator's own use of the published schemas: which file, and what it checks."""

from __future__ import annotations

from tests.jujusim import profile_for
from tests.jujusim.schema import pick

META_36 = {
    "id": "20250102-030405.m",
    "checksum": "x",
    "checksum-format": "SHA-1, base64 encoded",
    "size": 1,
    "stored": "0001-01-01T00:00:00Z",
    "started": "2025-01-02T03:04:05.123456789Z",
    "finished": "2025-01-02T03:04:06Z",
    "notes": "",
    "model": "m",
    "machine": "0",
    "hostname": "h",
    "version": "3.6.27",
    "base": "ubuntu@22.04",
    "filename": "/tmp/juju-backup-20250102-030405.tar.gz",
    "format-version": 1,
    "controller-uuid": "c",
    "controller-machine-id": "0",
    "controller-machine-inst-id": "i",
    "ha-nodes": 1,
}


def test_schema_files_are_picked_by_release():
    assert pick("Backups", 3, "3.6.27").file == "backups-v3-juju-3.6.1_to_3.6.27.json"
    assert pick("Backups", 2, "2.9.22").file == "backups-v2-juju-2.9.22_to_2.9.31.json"
    # No v1 schema after 2.3 here: the newest older one stands in.
    assert pick("Backups", 1, "2.8.11").file == "backups-v1-juju-2.0.0_to_2.3-alpha1.json"
    # No Admin schema before 2.8 here: the oldest stands in for 2.3.
    assert pick("Admin", 3, "2.3.4").file == "admin-v3-juju-2.8.1_to_2.8.6.json"
    assert (
        pick("ModelManager", 8, "2.8.11").file == "modelmanager-v8-juju-2.8-beta1_to_2.8-rc1.json"
    )
    assert (
        pick("ModelManager", 10, "3.6.27").file == "modelmanager-v10-juju-3.6.1_to_4.0-beta5.json"
    )


def test_answers_are_checked_strictly_except_the_version_string():
    schema = profile_for("3.6.27").schema("Backups", 3)
    assert schema.check_result("Create", META_36) == []
    missing = {k: v for k, v in META_36.items() if k != "size"}
    assert any(
        "'size' is a required property" in p for p in schema.check_result("Create", missing)
    )
    extra = {**META_36, "series": "jammy"}
    assert schema.check_result("Create", extra)
    as_object = {**META_36, "version": {"Major": 3, "Minor": 6}}
    assert schema.check_result("Create", as_object)
    bad_time = {**META_36, "stored": "yesterday"}
    assert schema.check_result("Create", bad_time)


def test_requests_are_checked_as_go_decodes_them():
    schema = profile_for("2.8.11").schema("Backups", 2)
    assert schema.check_params("Create", {}) == []
    unknown = schema.check_params("Create", {"keepcopy": True})
    assert [p.rejected for p in unknown] == [False]
    null = schema.check_params("Create", {"notes": None})
    assert [p.rejected for p in null] == [False]
    wrong = schema.check_params("Create", {"keep-copy": "yes"})
    assert [p.rejected for p in wrong] == [True]
    assert wrong[0].go_error == (
        "json: cannot unmarshal string into Go struct field "
        "BackupsCreateArgs.keep-copy of type bool"
    )
    not_object = schema.check_params("Remove", ["a"])
    assert not_object[0].go_error == (
        "json: cannot unmarshal array into Go value of type params.BackupsRemoveArgs"
    )


def test_results_are_projected_onto_each_releases_fields():
    full = {**META_36, "series": "focal", "ca-cert": "C", "ca-private-key": "K"}
    v3_36 = profile_for("3.6.27").schema("Backups", 3).project_result("Create", full)
    v2_29 = profile_for("2.9.22").schema("Backups", 2).project_result("Create", full)
    v1_23 = profile_for("2.3.4").schema("Backups", 1).project_result("Create", full)
    assert set(v3_36) == set(META_36)
    assert {"series", "ca-private-key", "filename"} <= set(v2_29)
    assert "base" not in v2_29
    assert "filename" not in v1_23
    assert "ca-private-key" in v1_23
