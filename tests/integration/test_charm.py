"""Deploy the packed charm on a real controller and take a real backup."""

from __future__ import annotations

import pathlib

import jubilant

APP = "juju-backups"


def test_deploy_blocks_without_credentials(juju: jubilant.Juju, charm_path: pathlib.Path):
    juju.deploy(charm_path, APP, base="ubuntu@24.04", storage={"archives": "2G"})
    status = juju.wait(lambda s: jubilant.all_blocked(s, APP))
    message = status.apps[APP].units[f"{APP}/0"].workload_status.message
    assert "credentials" in message


def test_create_backup_stores_verified_archive(juju: jubilant.Juju, backups_user: tuple[str, str]):
    username, password = backups_user
    uri = juju.add_secret("backups-credentials", {"username": username, "password": password})
    juju.grant_secret(uri, APP)
    juju.config(APP, {"credentials": str(uri)})
    juju.wait(lambda s: jubilant.all_active(s, APP))

    task = juju.run(f"{APP}/0", "create-backup", {"notes": "integration test"}, wait=1800)

    assert task.status == "completed"
    archive = task.results["archive"]
    assert task.results["metadata"]["notes"] == "integration test"
    check = juju.exec(f"test -s {archive} && echo present", unit=f"{APP}/0")
    assert check.stdout.strip() == "present"
    assert password not in str(task.results)
    assert "PRIVATE KEY" not in str(task.results)
