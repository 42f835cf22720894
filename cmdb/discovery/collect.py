"""SNMP collection with pysnmp 7's asyncio API: every target walked into a `RawWalk`.

One `SnmpEngine` serves a run. A semaphore bounds how many targets are
collected at once, and each request has the run's timeout and retries. On a
target, the credential profiles are tried in order with a GET of sysObjectID.0,
and the first that gets a response walks every table.

Tables are walked with GETBULK, one subtree at a time, by `walk_subtree`
rather than pysnmp's `bulk_walk_cmd`, because in pysnmp 7.1 that generator
ends silently on noSuchObject and noSuchInstance (both subclass Null), does
not check that returned OIDs increase, and sends its request again after a
timeout. Here a looping agent, an exception value or a timeout mid-walk marks
the table partial, keeps the rows received so far and records the error
against the target. A failing target never stops the run.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pyasn1.type import univ
from pysnmp.hlapi.v3arch.asyncio import (
    CommunityData,
    ContextData,
    ObjectIdentity,
    ObjectType,
    SnmpEngine,
    Udp6TransportTarget,
    UdpTransportTarget,
    UsmUserData,
    bulk_cmd,
    get_cmd,
)
from pysnmp.hlapi.v3arch.asyncio import auth as usm
from pysnmp.proto import errind, rfc1902, rfc1905

from cmdb.discovery.credentials import (
    AuthProtocol,
    CommunityProfile,
    PrivProtocol,
    UsmProfile,
    order_profiles,
)
from cmdb.discovery.models import (
    Integer,
    IntegerSyntax,
    IpAddress,
    Missing,
    ObjectId,
    Octets,
    Oid,
    RawWalk,
    SnmpValue,
    TableStatus,
    TableWalk,
    VarBind,
    WalkError,
)
from cmdb.discovery.tables import SYS_OBJECT_ID, TABLES, TableSpec
from cmdb.discovery.targets import Target

logger = logging.getLogger(__name__)

Profile = CommunityProfile | UsmProfile

_AUTH_PROTOCOLS: dict[AuthProtocol, Any] = {
    AuthProtocol.NONE: usm.USM_AUTH_NONE,
    AuthProtocol.MD5: usm.USM_AUTH_HMAC96_MD5,
    AuthProtocol.SHA: usm.USM_AUTH_HMAC96_SHA,
    AuthProtocol.SHA224: usm.USM_AUTH_HMAC128_SHA224,
    AuthProtocol.SHA256: usm.USM_AUTH_HMAC192_SHA256,
    AuthProtocol.SHA384: usm.USM_AUTH_HMAC256_SHA384,
    AuthProtocol.SHA512: usm.USM_AUTH_HMAC384_SHA512,
}
_PRIV_PROTOCOLS: dict[PrivProtocol, Any] = {
    PrivProtocol.NONE: usm.USM_PRIV_NONE,
    PrivProtocol.DES: usm.USM_PRIV_CBC56_DES,
    PrivProtocol.TRIPLE_DES: usm.USM_PRIV_CBC168_3DES,
    PrivProtocol.AES128: usm.USM_PRIV_CFB128_AES,
    PrivProtocol.AES192: usm.USM_PRIV_CFB192_AES,
    PrivProtocol.AES256: usm.USM_PRIV_CFB256_AES,
    PrivProtocol.AES192_BLUMENTHAL: usm.USM_PRIV_CFB192_AES_BLUMENTHAL,
    PrivProtocol.AES256_BLUMENTHAL: usm.USM_PRIV_CFB256_AES_BLUMENTHAL,
}
_INTEGER_SYNTAXES: dict[Any, IntegerSyntax] = {
    rfc1902.Integer32.tagSet: "Integer32",
    rfc1902.Counter32.tagSet: "Counter32",
    rfc1902.Gauge32.tagSet: "Gauge32",
    rfc1902.TimeTicks.tagSet: "TimeTicks",
    rfc1902.Counter64.tagSet: "Counter64",
}
_EXCEPTIONS: dict[Any, Missing] = {
    rfc1905.NoSuchObject.tagSet: Missing("noSuchObject"),
    rfc1905.NoSuchInstance.tagSet: Missing("noSuchInstance"),
    rfc1905.EndOfMibView.tagSet: Missing("endOfMibView"),
    univ.Null.tagSet: Missing("null"),
}


@dataclass(frozen=True, slots=True)
class CollectOptions:
    """Limits of one collection run."""

    timeout: float = 2.0
    """Seconds to wait for each response before a retry."""
    retries: int = 1
    """Retries per request; a silent agent costs timeout x (retries + 1) per profile."""
    concurrency: int = 32
    """Targets collected at the same time."""
    max_repetitions: int = 25
    """GETBULK max-repetitions."""
    max_rows_per_subtree: int = 200_000
    """A subtree with more rows is cut and marked partial, so a broken agent cannot run forever."""
    tables: tuple[str, ...] = tuple(TABLES)
    """Names from `cmdb.discovery.tables.TABLES` to walk."""
    max_consecutive_timeouts: int = 2
    """Tables in a row that may time out before the rest of the target is skipped."""


@dataclass(slots=True)
class SubtreeResult:
    """The rows of one subtree walk and how it ended."""

    rows: list[VarBind] = field(default_factory=list)
    status: TableStatus = TableStatus.COMPLETE
    error: str | None = None
    timed_out: bool = False


def convert_value(value: Any) -> SnmpValue:
    """Return the `SnmpValue` for a pysnmp value; OCTET STRINGs keep their raw bytes."""
    tag_set = value.tagSet
    if tag_set in _EXCEPTIONS:
        return _EXCEPTIONS[tag_set]
    if tag_set == rfc1902.IpAddress.tagSet:
        return IpAddress(bytes(value.asOctets()))
    if tag_set in _INTEGER_SYNTAXES:
        return Integer(int(value), _INTEGER_SYNTAXES[tag_set])
    if isinstance(value, univ.OctetString):
        return Octets(bytes(value.asOctets()))
    if isinstance(value, univ.ObjectIdentifier):
        return ObjectId(tuple(int(arc) for arc in value))
    if isinstance(value, univ.Integer):
        return Integer(int(value))
    return Octets(bytes(value.asOctets()))


def _format_oid(value: Oid) -> str:
    return ".".join(str(arc) for arc in value)


class TargetSession:
    """The transport, credentials and context for requests to one target."""

    def __init__(
        self, engine: Any, target: Target, profile: Profile, transport: Any, options: CollectOptions
    ):
        self.engine = engine
        self.target = target
        self.profile = profile
        self.transport = transport
        self.options = options
        if isinstance(profile, CommunityProfile):
            self.auth_data = CommunityData(profile.community.get_secret_value(), mpModel=1)
            self.context = ContextData()
        else:
            self.auth_data = UsmUserData(
                profile.user,
                authKey=profile.auth_key.get_secret_value() if profile.auth_key else None,
                privKey=profile.priv_key.get_secret_value() if profile.priv_key else None,
                authProtocol=_AUTH_PROTOCOLS[profile.auth_protocol],
                privProtocol=_PRIV_PROTOCOLS[profile.priv_protocol],
            )
            self.context = ContextData(contextName=profile.context_name)

    async def probe(self) -> str | None:
        """Send a GET of sysObjectID.0; return None on a response, else the error text."""
        error_indication, error_status, _, _ = await get_cmd(
            self.engine,
            self.auth_data,
            self.transport,
            self.context,
            ObjectType(ObjectIdentity(_format_oid(SYS_OBJECT_ID))),
            lookupMib=False,
        )
        if error_indication:
            return str(error_indication)
        if error_status:
            # An error-status is still a response, so the credentials work.
            logger.debug("probe of %s got error-status %s", self.target, error_status.prettyPrint())
        return None

    async def walk_subtree(self, subtree: Oid) -> SubtreeResult:
        """Walk `subtree` with GETBULK until the agent leaves it, checking every returned OID."""
        result = SubtreeResult()
        last = subtree
        while True:
            if len(result.rows) >= self.options.max_rows_per_subtree:
                result.status = TableStatus.PARTIAL
                result.error = f"stopped after {len(result.rows)} rows in {_format_oid(subtree)}"
                return result
            error_indication, error_status, error_index, var_binds = await bulk_cmd(
                self.engine,
                self.auth_data,
                self.transport,
                self.context,
                0,
                self.options.max_repetitions,
                ObjectType(ObjectIdentity(_format_oid(last))),
                lookupMib=False,
            )
            if error_indication:
                result.timed_out = isinstance(error_indication, errind.RequestTimedOut)
                result.status = TableStatus.PARTIAL if result.rows else TableStatus.ERROR
                result.error = f"{error_indication} after {_format_oid(last)}"
                return result
            if error_status:
                result.status = TableStatus.PARTIAL if result.rows else TableStatus.ERROR
                result.error = f"error-status {error_status.prettyPrint()} at index {error_index}"
                return result
            if not var_binds:
                return result
            for name, value in var_binds:
                oid = tuple(int(arc) for arc in name)
                if isinstance(value, rfc1905.EndOfMibView):
                    return result
                if oid <= last:
                    result.status = TableStatus.PARTIAL
                    result.error = (
                        f"OID not increasing: {_format_oid(oid)} returned after {_format_oid(last)}"
                    )
                    return result
                if len(oid) <= len(subtree) or oid[: len(subtree)] != subtree:
                    return result
                converted = convert_value(value)
                if isinstance(converted, Missing) and converted.kind != "null":
                    result.status = TableStatus.PARTIAL
                    result.error = f"{converted.kind} returned for {_format_oid(oid)}"
                    return result
                result.rows.append((oid, converted))
                last = oid

    async def walk_table(self, spec: TableSpec) -> tuple[TableWalk, bool]:
        """Walk every subtree of `spec`; return the table and whether a request timed out."""
        table = TableWalk(name=spec.name)
        timed_out = False
        for subtree in spec.subtrees:
            result = await self.walk_subtree(subtree)
            table.rows.extend(result.rows)
            if result.error is not None:
                table.errors.append(result.error)
            if result.status is not TableStatus.COMPLETE:
                table.status = TableStatus.PARTIAL if table.rows else result.status
            if result.timed_out:
                timed_out = True
                break
        return table, timed_out


async def _transport(target: Target, options: CollectOptions) -> Any:
    transport_class = Udp6TransportTarget if target.address.version == 6 else UdpTransportTarget
    return await transport_class.create(
        (str(target.address), target.port), timeout=options.timeout, retries=options.retries
    )


async def collect_target(
    engine: Any,
    target: Target,
    profiles: Sequence[Profile],
    options: CollectOptions,
    preferred_profile: str | None = None,
) -> RawWalk:
    """Collect every table of `options` from one target; never raises for an agent's failure."""
    walk = RawWalk(target=str(target))
    started = time.monotonic()
    try:
        transport = await _transport(target, options)
        session = None
        for profile in order_profiles(list(profiles), preferred_profile):
            candidate = TargetSession(engine, target, profile, transport, options)
            failure = await candidate.probe()
            if failure is None:
                session = candidate
                break
            logger.info("target %s: profile %s failed: %s", target, profile.name, failure)
            walk.errors.append(WalkError(str(target), f"profile {profile.name}: {failure}"))
        if session is None:
            walk.reachable = False
            logger.info("target %s: no response with any credential profile; target skipped", target)
            return walk

        walk.profile = session.profile.name
        consecutive_timeouts = 0
        for name in options.tables:
            spec = TABLES[name]
            if consecutive_timeouts >= options.max_consecutive_timeouts:
                walk.tables[name] = TableWalk(name=name, status=TableStatus.ERROR, errors=["skipped"])
                continue
            table, timed_out = await session.walk_table(spec)
            walk.tables[name] = table
            consecutive_timeouts = consecutive_timeouts + 1 if timed_out else 0
            for message in table.errors:
                logger.warning("target %s: table %s is %s: %s", target, name, table.status, message)
                walk.errors.append(WalkError(str(target), message, table=name))
        if consecutive_timeouts >= options.max_consecutive_timeouts:
            message = f"skipped the remaining tables after {consecutive_timeouts} tables timed out"
            logger.warning("target %s: %s", target, message)
            walk.errors.append(WalkError(str(target), message))
    except Exception as exc:  # one broken target must not stop the run
        logger.exception("target %s: collection failed", target)
        walk.errors.append(WalkError(str(target), f"collection failed: {type(exc).__name__}: {exc}"))
    finally:
        logger.info(
            "target %s: collected %d tables, %d rows, %d errors in %.1f s (profile %s)",
            target,
            len(walk.tables),
            sum(len(table.rows) for table in walk.tables.values()),
            len(walk.errors),
            time.monotonic() - started,
            walk.profile,
        )
    return walk


async def collect(
    targets: Iterable[Target],
    profiles: Sequence[Profile],
    options: CollectOptions | None = None,
    preferred_profiles: Mapping[Target, str] | None = None,
    on_walk: Callable[[RawWalk], None] | None = None,
) -> list[RawWalk]:
    """Collect all `targets` concurrently and return their walks in target order.

    `preferred_profiles` maps a target to the profile NAME that worked last
    time (`RawWalk.profile`); that profile is tried first. `on_walk` is called
    with each walk as soon as its target is done, e.g. to advance a progress bar.
    """
    options = options or CollectOptions()
    unknown = [name for name in options.tables if name not in TABLES]
    if unknown:
        raise ValueError(f"unknown tables {unknown}; choose from {sorted(TABLES)}")
    if not profiles:
        raise ValueError("no credential profiles; give at least one")
    target_list = list(targets)
    preferred = preferred_profiles or {}
    semaphore = asyncio.Semaphore(options.concurrency)
    engine = SnmpEngine()
    started = time.monotonic()
    logger.info("collecting %d targets with %d profiles", len(target_list), len(profiles))

    async def bounded(target: Target) -> RawWalk:
        async with semaphore:
            walk = await collect_target(engine, target, profiles, options, preferred.get(target))
        if on_walk is not None:
            on_walk(walk)
        return walk

    try:
        walks = await asyncio.gather(*(bounded(target) for target in target_list))
    finally:
        engine.close_dispatcher()
    logger.info(
        "collected %d targets in %.1f s: %d unreachable, %d with errors",
        len(walks),
        time.monotonic() - started,
        sum(1 for walk in walks if not walk.reachable),
        sum(1 for walk in walks if walk.errors),
    )
    _warn_unreachable(walks)
    return list(walks)


UNREACHABLE_NAMED = 10
"""Unreachable targets named in one warning; a sweep of a mostly empty subnet has hundreds."""


def _warn_unreachable(walks: Sequence[RawWalk]) -> None:
    """Log one warning for the targets that responded to no profile, naming the first few."""
    silent = [walk.target for walk in walks if not walk.reachable]
    if not silent:
        return
    named = ", ".join(str(target) for target in silent[:UNREACHABLE_NAMED])
    more = f" and {len(silent) - UNREACHABLE_NAMED} more" if len(silent) > UNREACHABLE_NAMED else ""
    logger.warning(
        "%d targets responded to no credential profile and were skipped: %s%s", len(silent), named, more
    )
