"""Target specifications and credential profiles."""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path

import pytest
from pydantic import ValidationError

from cmdb.discovery.credentials import (
    AuthProtocol,
    CommunityProfile,
    CredentialError,
    PrivProtocol,
    UsmProfile,
    load_credentials,
    order_profiles,
)
from cmdb.discovery.targets import Target, TargetError, parse_target, parse_targets


def addresses(spec: str) -> list[str]:
    return [str(target) for target in parse_target(spec)]


def test_target_single_address_default_port() -> None:
    assert addresses("10.0.0.5") == ["10.0.0.5:161"]


def test_target_address_with_port() -> None:
    assert addresses("10.0.0.5:1161") == ["10.0.0.5:1161"]


def test_target_ipv6_with_port() -> None:
    [target] = parse_target("[2001:db8::5]:1161")
    assert target == Target(ipaddress.ip_address("2001:db8::5"), 1161)
    assert str(target) == "[2001:db8::5]:1161"


def test_target_full_range() -> None:
    assert addresses("10.0.0.254-10.0.1.1") == [
        "10.0.0.254:161",
        "10.0.0.255:161",
        "10.0.1.0:161",
        "10.0.1.1:161",
    ]


def test_target_short_range_with_port() -> None:
    assert addresses("127.0.1.3-5:16100") == ["127.0.1.3:16100", "127.0.1.4:16100", "127.0.1.5:16100"]


def test_target_cidr_hosts() -> None:
    assert addresses("192.0.2.0/30") == ["192.0.2.1:161", "192.0.2.2:161"]
    assert addresses("192.0.2.7/32") == ["192.0.2.7:161"]


def test_targets_drop_repeats_in_order() -> None:
    targets = parse_targets(["10.0.0.2", "10.0.0.1-2", "10.0.0.2:1161"])
    assert [str(target) for target in targets] == ["10.0.0.2:161", "10.0.0.1:161", "10.0.0.2:1161"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "empty target"),
        ("10.0.0.300", "is not an IP address"),
        ("10.0.0.5:0", "invalid port"),
        ("10.0.0.5:http", "invalid port"),
        ("10.0.0.9-10.0.0.1", "must not come before"),
        ("10.0.0.0/8", "more than 65536"),
        ("[2001:db8::1", "missing ']'"),
    ],
)
def test_target_errors(spec: str, message: str) -> None:
    with pytest.raises(TargetError, match=message.replace("[", r"\[")):
        parse_target(spec)


CREDENTIALS = """
profiles:
  - name: wrong-first
    version: 2c
    community: not-this-one
  - name: lab
    version: "2c"
    community: lab-community
  - name: biomed-v3
    version: 3
    user: cmdb-v3
    auth_protocol: SHA256
    auth_key: cmdb-auth-key
    priv_protocol: AES
    priv_key: cmdb-priv-key
    context_name: public
"""


def test_credentials_load_in_order(tmp_path: Path) -> None:
    path = tmp_path / "credentials.yaml"
    path.write_text(CREDENTIALS)
    profiles = load_credentials(path)
    assert [profile.name for profile in profiles] == ["wrong-first", "lab", "biomed-v3"]
    v3 = profiles[2]
    assert isinstance(v3, UsmProfile)
    assert v3.auth_protocol is AuthProtocol.SHA256
    assert v3.priv_protocol is PrivProtocol.AES128
    assert v3.context_name == "public"


def test_credentials_secrets_hidden(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "credentials.yaml"
    path.write_text(CREDENTIALS)
    profiles = load_credentials(path)
    logging.getLogger("test").warning("profiles %s", profiles)
    shown = repr(profiles) + str(profiles) + caplog.text
    for secret in ("not-this-one", "lab-community", "cmdb-auth-key", "cmdb-priv-key"):
        assert secret not in shown


def test_credentials_repeated_name(tmp_path: Path) -> None:
    path = tmp_path / "credentials.yaml"
    path.write_text(
        "profiles:\n  - {name: a, version: 2c, community: x}\n  - {name: a, version: 2c, community: y}\n"
    )
    with pytest.raises(CredentialError, match="repeated: a"):
        load_credentials(path)


def test_credentials_missing_version_hides_secret(tmp_path: Path) -> None:
    path = tmp_path / "credentials.yaml"
    path.write_text("profiles:\n  - {name: a, community: very-secret-community}\n")
    with pytest.raises(CredentialError, match=r"profiles\.0") as raised:
        load_credentials(path)
    assert "very-secret-community" not in str(raised.value)


def test_credentials_short_key_hides_secret(tmp_path: Path) -> None:
    path = tmp_path / "credentials.yaml"
    path.write_text("profiles:\n  - {name: v3, version: 3, user: u, auth_protocol: SHA, auth_key: tiny}\n")
    with pytest.raises(CredentialError, match="at least 8 characters") as raised:
        load_credentials(path)
    assert "tiny" not in str(raised.value)


def test_credentials_privacy_needs_auth() -> None:
    with pytest.raises(ValidationError, match="privacy needs authentication"):
        UsmProfile(name="v3", user="u", priv_protocol=PrivProtocol.DES, priv_key="privatus")


def test_order_profiles_remembered_first() -> None:
    profiles: list[CommunityProfile | UsmProfile] = [
        CommunityProfile(name="a", community="x"),
        CommunityProfile(name="b", community="y"),
    ]
    assert [profile.name for profile in order_profiles(profiles, "b")] == ["b", "a"]
    assert [profile.name for profile in order_profiles(profiles, None)] == ["a", "b"]
