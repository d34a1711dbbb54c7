"""The typed config, the action params and the credentials secret's content."""

from __future__ import annotations

import pydantic
import pytest

from config import (
    CharmConfig,
    CreateBackupParams,
    CredentialsError,
    check_ca_cert,
    config_error_message,
    parse_credentials,
    parse_endpoints,
)

CA = (
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBszCCAVmgAwIBAgIUQ2FUZXN0Q0Fmb3JqdWp1YmFja3Vwc0NoYXJtMAoGCCqG\n"
    "-----END CERTIFICATE-----"
)
UUID = "6f8e1c2a-3b4d-4e5f-8a9b-0c1d2e3f4a5b"


def config_error(**values: object) -> str:
    with pytest.raises(ValueError) as raised:  # noqa: PT011 - the message is what is tested
        CharmConfig(**values)  # pyright: ignore[reportArgumentType]
    return config_error_message(raised.value)


# -- CharmConfig -------------------------------------------------------------------------------


def test_defaults() -> None:
    config = CharmConfig()

    assert config.credentials is None
    assert config.keep_copy is False
    assert config.controller_model_uuid == ""
    assert config.timeout == 60
    assert config.create_timeout == 1800


def test_secret_object_is_taken_as_is() -> None:
    secret = object()  # ops hands over an ops.Secret; the model must not touch it

    assert CharmConfig(credentials=secret).credentials is secret


def test_controller_model_uuid_is_normalised() -> None:
    assert CharmConfig(controller_model_uuid=f" {UUID.upper()} ").controller_model_uuid == UUID


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"timeout": 4}, "option timeout: 4 seconds is out of range: use 5 to 3600 (default 60)"),
        (
            {"timeout": 3601},
            "option timeout: 3601 seconds is out of range: use 5 to 3600 (default 60)",
        ),
        (
            {"create_timeout": 59},
            "option create-timeout: 59 seconds is out of range: use 60 to 86400 (default 1800)",
        ),
        (
            {"controller_model_uuid": "controller"},
            "option controller-model-uuid: 'controller' is not a model UUID; set it to the UUID "
            "`juju show-model controller` prints, or to an empty string to let the charm find it",
        ),
    ],
)
def test_invalid_values_name_the_option_and_the_fix(
    values: dict[str, object], expected: str
) -> None:
    assert config_error(**values) == expected


def test_several_invalid_options_are_all_named() -> None:
    message = config_error(timeout=1, create_timeout=1)

    assert "option timeout:" in message
    assert "option create-timeout:" in message


def test_wrong_type_names_the_option_without_pydantic_noise() -> None:
    message = config_error(keep_copy="perhaps")

    assert message.startswith("option keep-copy: ")
    assert "https://" not in message
    assert "perhaps" not in message  # the input is not echoed


def test_message_of_a_plain_value_error_is_kept() -> None:
    assert config_error_message(ValueError("boom")) == "boom"


def test_action_params() -> None:
    assert CreateBackupParams() == CreateBackupParams(notes="", keep_copy=None)
    assert CreateBackupParams(keep_copy=False).keep_copy is False
    with pytest.raises(pydantic.ValidationError):
        CreateBackupParams(unknown="x")  # pyright: ignore[reportCallIssue]


# -- credentials ----------------------------------------------------------------------------


def test_minimal_credentials() -> None:
    creds = parse_credentials({"username": "backups", "password": "pw"})

    assert creds.username == "backups"
    assert creds.password == "pw"
    assert creds.endpoints == ()
    assert creds.ca_cert is None


def test_full_credentials() -> None:
    creds = parse_credentials(
        {
            "username": "user-backups",
            "password": "pw",
            "endpoints": "10.0.0.1:17070, 10.0.0.2:17070 [fd00::1]:17070,ctl.example.com:17070",
            "ca-cert": f"\n{CA}\n\n",
        }
    )

    assert creds.username == "backups"  # a tag is accepted and reduced to the name
    assert creds.endpoints == (
        "10.0.0.1:17070",
        "10.0.0.2:17070",
        "[fd00::1]:17070",
        "ctl.example.com:17070",
    )
    assert creds.ca_cert == CA + "\n"


def test_empty_optional_keys_mean_unset() -> None:
    creds = parse_credentials({"username": "b", "password": "pw", "endpoints": "", "ca-cert": ""})

    assert creds.endpoints == ()
    assert creds.ca_cert is None


def test_password_is_never_shown() -> None:
    creds = parse_credentials({"username": "backups", "password": "Sup3r-s3cret"})

    assert "Sup3r-s3cret" not in repr(creds)
    assert "Sup3r-s3cret" not in str(creds)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ({"password": "pw"}, "key 'username' is missing"),
        ({"username": "b"}, "key 'password' is missing"),
        ({"username": "b", "password": ""}, "key 'password' must not be empty"),
        (
            {"username": "b a d", "password": "pw"},
            "key 'username' must be a Juju user name such as 'backups'",
        ),
        (
            {"username": "b", "password": "pw", "endpoint": "x:1"},
            "key 'endpoint' is unknown (expected username, password, endpoints, ca-cert)",
        ),
        (
            {"username": "b", "password": "pw", "endpoints": "10.0.0.1"},
            "key 'endpoints' '10.0.0.1' is not host:port",
        ),
        (
            {"username": "b", "password": "pw", "endpoints": "10.0.0.1:0"},
            "key 'endpoints' '10.0.0.1:0' is not host:port",
        ),
        (
            {"username": "b", "password": "pw", "ca-cert": "MIIB..."},
            "key 'ca-cert' is not a PEM certificate",
        ),
    ],
)
def test_bad_content_names_the_key(content: dict[str, str], expected: str) -> None:
    with pytest.raises(CredentialsError) as raised:
        parse_credentials(content)

    assert str(raised.value).startswith("the credentials secret is not usable: ")
    assert expected in str(raised.value)


def test_bad_content_never_repeats_the_password() -> None:
    # A wrong-type or otherwise odd secret must not echo values: pydantic would.
    with pytest.raises(CredentialsError) as raised:
        parse_credentials({"username": "not valid!", "password": "Sup3r-s3cret", "x": "1"})

    assert "Sup3r-s3cret" not in str(raised.value)
    assert raised.value.__cause__ is None
    assert raised.value.__suppress_context__


def test_private_key_in_ca_cert_is_refused_and_not_repeated() -> None:
    key = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIRECOGNISABLEKEY\n-----END EC PRIVATE KEY-----"

    with pytest.raises(CredentialsError) as raised:
        parse_credentials({"username": "b", "password": "pw", "ca-cert": CA + "\n" + key})

    assert "key 'ca-cert' holds a private key" in str(raised.value)
    assert "RECOGNISABLEKEY" not in str(raised.value)


@pytest.mark.parametrize("body", ["@@@@", "QUJD=A", ""])
def test_certificate_body_must_be_base64(body: str) -> None:
    with pytest.raises(ValueError, match="not valid base64"):
        check_ca_cert(f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----")


def test_chain_of_certificates_is_accepted() -> None:
    assert check_ca_cert(CA + "\n" + CA) == CA + "\n" + CA + "\n"


def test_endpoints_keep_order_and_drop_duplicates() -> None:
    assert parse_endpoints("b:1,a:2,b:1") == ("b:1", "a:2")
    with pytest.raises(ValueError, match="comma-separated"):
        parse_endpoints("a:1;b:2")
