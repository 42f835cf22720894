"""Named SNMP credential profiles, read from YAML and tried in order on every target.

Example file:

    profiles:
      - name: campus-v2c
        version: "2c"
        community: s3cret
      - name: biomed-v3
        version: "3"
        user: cmdb
        auth_protocol: SHA256
        auth_key: auth-passphrase
        priv_protocol: AES128
        priv_key: priv-passphrase

Communities and keys are `SecretStr`: they print as `**********` in reprs,
logs and validation errors. Only a profile's NAME is stored with a walk.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

# RFC 3414 requires passphrases of at least 8 octets.
MIN_KEY_LENGTH = 8


class AuthProtocol(StrEnum):
    """USM authentication protocols that pysnmp 7 supports."""

    NONE = "NONE"
    MD5 = "MD5"
    SHA = "SHA"
    SHA224 = "SHA224"
    SHA256 = "SHA256"
    SHA384 = "SHA384"
    SHA512 = "SHA512"


class PrivProtocol(StrEnum):
    """USM privacy protocols that pysnmp 7 supports, including the Blumenthal AES-192/256 key variants."""

    NONE = "NONE"
    DES = "DES"
    TRIPLE_DES = "3DES"
    AES128 = "AES128"
    AES192 = "AES192"
    AES256 = "AES256"
    AES192_BLUMENTHAL = "AES192BLMT"
    AES256_BLUMENTHAL = "AES256BLMT"


class _Profile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.\-]+$", description="Unique profile name.")


class CommunityProfile(_Profile):
    """An SNMPv2c community."""

    version: Literal["2c"] = "2c"
    community: SecretStr

    @field_validator("community")
    @classmethod
    def _not_empty(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value():
            raise ValueError("community must not be empty")
        return value


class UsmProfile(_Profile):
    """An SNMPv3 USM user with optional authentication and privacy."""

    version: Literal["3"] = "3"
    user: str = Field(min_length=1)
    auth_protocol: AuthProtocol = AuthProtocol.NONE
    auth_key: SecretStr | None = None
    priv_protocol: PrivProtocol = PrivProtocol.NONE
    priv_key: SecretStr | None = None
    context_name: str = Field(default="", description="SNMPv3 context name; snmpsim needs the data file's.")

    @field_validator("priv_protocol", mode="before")
    @classmethod
    def _aes_alias(cls, value: object) -> object:
        # Net-SNMP and snmpsim call AES-128 plain "AES".
        return PrivProtocol.AES128 if isinstance(value, str) and value.upper() == "AES" else value

    @model_validator(mode="after")
    def _check_keys(self) -> UsmProfile:
        if self.auth_protocol is AuthProtocol.NONE and self.priv_protocol is not PrivProtocol.NONE:
            raise ValueError(f"profile {self.name!r}: privacy needs authentication; set auth_protocol")
        for protocol, key, label in (
            (self.auth_protocol, self.auth_key, "auth_key"),
            (self.priv_protocol, self.priv_key, "priv_key"),
        ):
            if protocol == "NONE":
                continue
            if key is None:
                raise ValueError(f"profile {self.name!r}: {label} is missing for protocol {protocol}")
            if len(key.get_secret_value()) < MIN_KEY_LENGTH:
                raise ValueError(
                    f"profile {self.name!r}: {label} must be at least {MIN_KEY_LENGTH} characters"
                )
        return self


CredentialProfile = Annotated[CommunityProfile | UsmProfile, Field(discriminator="version")]


class CredentialFile(BaseModel):
    """The profiles of one credentials file, in the order they are tried."""

    model_config = ConfigDict(extra="forbid")

    profiles: list[CredentialProfile] = Field(min_length=1)

    @field_validator("profiles")
    @classmethod
    def _unique_names(
        cls, profiles: list[CommunityProfile | UsmProfile]
    ) -> list[CommunityProfile | UsmProfile]:
        names = [profile.name for profile in profiles]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"profile names must be unique; repeated: {', '.join(repeated)}")
        return profiles


_PROFILES = TypeAdapter(CredentialFile)


class CredentialError(ValueError):
    """An invalid credentials file; the message names fields, never their values."""


def load_credentials(path: Path) -> list[CommunityProfile | UsmProfile]:
    """Read the profiles from the YAML file `path`, in file order.

    YAML reads `version: 3` as an integer, so numeric versions are accepted
    and turned into the strings "2c" and "3". Raises `CredentialError`,
    whose message names the invalid fields without their values.
    """
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError:
        # The parser's message can quote the offending line, which may hold a secret.
        raise CredentialError(f"invalid credentials file {path}: not valid YAML") from None
    if isinstance(document, dict):
        for profile in document.get("profiles") or []:
            if isinstance(profile, dict) and isinstance(profile.get("version"), int | float):
                profile["version"] = "3" if profile["version"] == 3 else str(profile["version"])
    try:
        return list(_PROFILES.validate_python(document).profiles)
    except ValidationError as exc:
        # pydantic's own message repeats the input, secrets included; keep locations and reasons only.
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
            for error in exc.errors(include_input=False, include_url=False)
        )
        raise CredentialError(
            f"invalid credentials file {path}: {problems}; every profile needs name and version (2c or 3)"
        ) from None


def order_profiles(
    profiles: list[CommunityProfile | UsmProfile], preferred: str | None
) -> list[CommunityProfile | UsmProfile]:
    """Return `profiles` with the one named `preferred` (the last one that worked) moved to the front."""
    if preferred is None:
        return list(profiles)
    first = [profile for profile in profiles if profile.name == preferred]
    return first + [profile for profile in profiles if profile.name != preferred]
