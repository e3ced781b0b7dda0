"""Building messages: responses to a request, the ACK and CANCEL of an INVITE, new requests, fresh identifiers.

Responses copy what RFC 3261 8.2.6.2 says they must (every Via in order, From, To, Call-ID, CSeq) and add a
To-tag to every response but 100 Trying when the request had none. Record-Route is copied into responses to
dialog-creating requests (RFC 3261 12.1.1).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import replace

from xueliang.protocol.sip.errors import LocalProtocolError
from xueliang.protocol.sip.fields import BRANCH_MAGIC, CSeq, NameAddr, Via
from xueliang.protocol.sip.grammar import has_param, is_token, parse_params, split_commas
from xueliang.protocol.sip.headers import Headers
from xueliang.protocol.sip.message import Request, Response
from xueliang.protocol.sip.uri import SipUri

__all__ = [
    "REASON_PHRASES",
    "make_ack",
    "make_cancel",
    "make_request",
    "make_response",
    "new_branch",
    "new_call_id",
    "new_tag",
    "stamp_source",
]

REASON_PHRASES: dict[int, str] = {
    100: "Trying",
    180: "Ringing",
    183: "Session Progress",
    200: "OK",
    202: "Accepted",
    301: "Moved Permanently",
    302: "Moved Temporarily",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    413: "Request Entity Too Large",
    415: "Unsupported Media Type",
    416: "Unsupported URI Scheme",
    420: "Bad Extension",
    423: "Interval Too Brief",
    480: "Temporarily Unavailable",
    481: "Call/Transaction Does Not Exist",
    482: "Loop Detected",
    483: "Too Many Hops",
    486: "Busy Here",
    487: "Request Terminated",
    488: "Not Acceptable Here",
    489: "Bad Event",
    500: "Server Internal Error",
    501: "Not Implemented",
    503: "Service Unavailable",
    504: "Server Time-out",
    505: "Version Not Supported",
    513: "Message Too Large",
    603: "Decline",
}
_DIALOG_CREATING = frozenset({"INVITE", "SUBSCRIBE"})
_COPIED = frozenset({"From", "To", "Call-ID", "CSeq"})


def new_branch() -> str:
    """A Via branch unique in space and time, with the RFC 3261 magic cookie."""
    return BRANCH_MAGIC + secrets.token_hex(8)


def new_tag() -> str:
    return secrets.token_hex(5)


def new_call_id(host: str) -> str:
    return f"{secrets.token_hex(12)}@{host}"


def make_response(
    request: Request,
    status_code: int,
    reason: str | None = None,
    *,
    to_tag: str | None = None,
    headers: Iterable[tuple[str, str]] = (),
    body: bytes = b"",
) -> Response:
    """A response to ``request``. ``to_tag``: the tag to put on To when it has none (a fresh one if None;
    pass the same tag for every response of a dialog); ``headers``: extra lines (Contact, Content-Type, ...)."""
    copy_record_route = request.method in _DIALOG_CREATING and status_code > 100
    vias: list[tuple[str, str]] = []
    copied: dict[str, tuple[str, str]] = {}
    record_routes: list[tuple[str, str]] = []
    for pair in request.headers.fields:  # known names are stored canonical: compare exactly
        name = pair[0]
        if name == "Via":
            vias.append(pair)
        elif name in _COPIED:
            copied.setdefault(name, pair)
        elif name == "Record-Route" and copy_record_route:
            record_routes.append(pair)
    if len(copied) != len(_COPIED) or not vias:
        raise LocalProtocolError("a request needs Via, From, To, Call-ID and CSeq to be answered")
    to_value = copied["To"][1]
    if status_code > 100:
        to_value = _with_to_tag(request, to_value, to_tag)
    fields = [*vias, copied["From"], ("To", to_value), copied["Call-ID"], copied["CSeq"], *record_routes]
    fields.extend(Headers(headers).fields)
    return Response(
        status_code=status_code,
        reason=REASON_PHRASES.get(status_code, "") if reason is None else reason,
        headers=Headers._trusted(tuple(fields), tuple(name.lower() for name, _ in fields)),
        body=body,
    )


def _with_to_tag(request: Request, value: str, tag: str | None) -> str:
    """``value`` (the request's To) with a tag added when it has none, the rest kept byte for byte."""
    if tag is not None and not is_token(tag):
        raise LocalProtocolError(f"To tag must be a token, got {tag!r}")
    if ">" in value:
        if has_param(parse_params(value.rpartition(">")[2], "To"), "tag"):
            return value
    elif request.to.tag is not None:
        return value
    return f"{value};tag={tag or new_tag()}"


def _raw(request: Request, name: str) -> str:
    value = request.headers.get(name)
    assert value is not None, f"{name} is mandatory and checked at parse time"
    return value


def make_ack(invite: Request, response: Response) -> Request:
    """The ACK a client transaction sends for a 3xx-6xx answer to ``invite`` (RFC 3261 17.1.1.3)."""
    pairs: list[tuple[str, str]] = [
        ("Via", request_top_via(invite)),
        ("From", _raw(invite, "From")),
        ("To", response.headers.get("To") or _raw(invite, "To")),
        ("Call-ID", invite.call_id),
        ("CSeq", str(CSeq(invite.cseq.number, "ACK"))),
    ]
    pairs.extend(("Route", value) for value in invite.headers.get_all("Route"))
    pairs.append(("Max-Forwards", "70"))
    return Request(method="ACK", uri=invite.uri, headers=Headers(pairs))


def make_cancel(invite: Request) -> Request:
    """The CANCEL of a pending ``invite`` (RFC 3261 9.1): same Request-URI, top Via, From, To, Call-ID, CSeq number."""
    pairs: list[tuple[str, str]] = [
        ("Via", request_top_via(invite)),
        ("From", _raw(invite, "From")),
        ("To", _raw(invite, "To")),
        ("Call-ID", invite.call_id),
        ("CSeq", str(CSeq(invite.cseq.number, "CANCEL"))),
    ]
    pairs.extend(("Route", value) for value in invite.headers.get_all("Route"))
    pairs.append(("Max-Forwards", "70"))
    return Request(method="CANCEL", uri=invite.uri, headers=Headers(pairs))


def request_top_via(request: Request) -> str:
    return request.headers.get_list("Via")[0]


def stamp_source(request: Request, host: str, port: int) -> Request:
    """``request`` with its top Via stamped with the address it came from (``received``, ``rport``), as a server
    does on receipt (RFC 3261 18.2.1, RFC 3581) so that every response carries it."""
    top = request.via
    stamped = top.stamped(host, port)
    if stamped == top:
        return request
    fields: list[tuple[str, str]] = []
    done = False
    for name, value in request.headers.fields:
        if name == "Via" and not done:
            rest = split_commas(value)[1:]
            value = ", ".join([str(stamped), *rest])
            done = True
        fields.append((name, value))
    return replace(request, headers=Headers(fields))


def make_request(
    method: str,
    uri: SipUri,
    *,
    via: Via,
    from_: NameAddr,
    to: NameAddr,
    call_id: str,
    cseq: int,
    contact: NameAddr | None = None,
    max_forwards: int = 70,
    headers: Iterable[tuple[str, str]] = (),
    body: bytes = b"",
) -> Request:
    """A new request with the mandatory headers in the usual order, then ``headers`` (Expires, Content-Type, ...)."""
    pairs: list[tuple[str, str]] = [
        ("Via", str(via)),
        ("From", str(from_)),
        ("To", str(to)),
        ("Call-ID", call_id),
        ("CSeq", str(CSeq(cseq, method))),
    ]
    if contact is not None:
        pairs.append(("Contact", str(contact)))
    pairs.append(("Max-Forwards", str(max_forwards)))
    pairs.extend(headers)
    return Request(method=method, uri=uri, headers=Headers(pairs), body=body)
