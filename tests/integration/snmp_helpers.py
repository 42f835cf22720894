"""Misbehaving SNMP agents for the integration tests: a minimal SNMPv2c responder on loopback."""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Callable
from typing import Any

from pyasn1.codec.ber import decoder, encoder  # type: ignore[import-untyped]
from pysnmp.proto import api, rfc1905  # type: ignore[import-untyped]

from cmdb.discovery.targets import Target

V2C = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]
SYS_OBJECT_ID = (1, 3, 6, 1, 2, 1, 1, 2, 0)
SYS_DESCR = (1, 3, 6, 1, 2, 1, 1, 1, 0)
NON_UTF8_DESCR = b"Pump gateway \xff\xfe v1"

WalkAnswer = Callable[[tuple[int, ...], int], Any]


class Responder:
    """Answers GET with fixed system values and every GETNEXT/GETBULK with `answer(oid, request_number)`.

    `answer` returns (oid, value) to send, or None to stay silent.
    """

    def __init__(self, answer: WalkAnswer) -> None:
        self.answer = answer
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port: int = self.sock.getsockname()[1]
        self.walk_requests = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)

    def serve(self) -> None:
        while not self.stopping.is_set():
            try:
                data, peer = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            message, _ = decoder.decode(data, asn1Spec=V2C.Message())
            request = V2C.apiMessage.get_pdu(message)
            response_message = V2C.apiMessage.get_response(message)
            response = V2C.apiMessage.get_pdu(response_message)
            requested = [tuple(name) for name, _ in V2C.apiPDU.get_varbinds(request)]
            if request.isSameTypeWith(V2C.GetRequestPDU()):
                answers = [(oid, self.get_value(oid)) for oid in requested]
            else:
                self.walk_requests += 1
                answer = self.answer(requested[0], self.walk_requests)
                if answer is None:
                    continue
                answers = [answer]
            V2C.apiPDU.set_varbinds(response, answers)
            self.sock.sendto(encoder.encode(response_message), peer)

    @staticmethod
    def get_value(oid: tuple[int, ...]) -> Any:
        if oid == SYS_OBJECT_ID:
            return V2C.ObjectIdentifier((1, 3, 6, 1, 4, 1, 99999, 1))
        if oid == SYS_DESCR:
            return V2C.OctetString(NON_UTF8_DESCR)
        return rfc1905.noSuchObject

    def __enter__(self) -> Target:
        self.thread.start()
        return Target(ipaddress.ip_address("127.0.0.1"), self.port)

    def __exit__(self, *exc_info: object) -> None:
        self.stopping.set()
        self.thread.join(timeout=2)
        self.sock.close()


def looping(oid: tuple[int, ...], request_number: int) -> Any:
    """Step into the subtree twice, then answer with a lower OID, forever."""
    name = (*oid, 1) if len(oid) < 12 else oid[:-1]
    return (name, V2C.Integer(request_number))


def no_such_object(oid: tuple[int, ...], request_number: int) -> Any:
    return ((*oid, 1), rfc1905.noSuchObject)


def descr_then_leave(oid: tuple[int, ...], request_number: int) -> Any:
    """Serve sysDescr.0 with non-UTF-8 bytes, then step out of the system group."""
    if oid < SYS_DESCR:
        return (SYS_DESCR, V2C.OctetString(NON_UTF8_DESCR))
    return ((1, 3, 6, 1, 2, 1, 2, 1, 0), V2C.Integer(1))


def silent_after_two(oid: tuple[int, ...], request_number: int) -> Any:
    return ((*oid, 1), V2C.Integer(request_number)) if request_number <= 2 else None
