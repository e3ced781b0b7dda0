"""Subscriptions the platform holds on a simulated device (RFC 6665, device side) and the Catalog NOTIFYs.

SUBSCRIBE without a To tag creates a subscription (200 with our tag, Contact and the Expires granted; GB/T 28181
devices answer the body's query with a Result), with a To tag refreshes it (``Expires: 0`` ends it), for an
unknown dialog is 481. Catalog NOTIFYs go out when the simulator's API changes a channel (ON, OFF, ADD, DEL,
UPDATE); no initial NOTIFY is sent, as GB/T 28181 devices do. An expired subscription is dropped the next time
a NOTIFY would go out; a 481 to a NOTIFY drops it at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from xueliang.protocol import manscdp
from xueliang.protocol.manscdp import CatalogItem, CatalogNotify, CommandResponse
from xueliang.protocol.sip import BRANCH_MAGIC, Request, Response, make_response
from xueliang.sim.context import MANSCDP, build_request
from xueliang.sim.effects import Effect, Purpose, Reply, Send, Subscription

if TYPE_CHECKING:
    from xueliang.sim.device_core import Device

__all__ = ["DEFAULT_EXPIRES", "SUBSCRIBABLE", "notify_catalog", "on_subscribe"]

SUBSCRIBABLE = frozenset({"catalog", "alarm", "mobileposition", "ptzposition"})
DEFAULT_EXPIRES = 600  # s, GB/T 28181 catalog subscriptions


def on_subscribe(device: Device, request: Request, now: float) -> list[Effect]:
    event_header = request.headers.get("Event")
    event, _, params = (event_header or "").partition(";")
    event = event.strip()
    if event.lower() not in SUBSCRIBABLE:
        return [Reply(make_response(request, 489, headers=[("Allow-Events", "Catalog, Alarm")]))]
    expires = request.expires if request.expires is not None else DEFAULT_EXPIRES
    call_id = request.call_id
    subscriptions = device.subscriptions
    if request.to.tag is not None:  # a refresh or an unsubscribe within the dialog
        existing = subscriptions.get(call_id)
        if existing is None or existing.local.tag != request.to.tag:
            return [Reply(make_response(request, 481))]
        if expires == 0:
            del subscriptions[call_id]
        else:
            existing.expires_at = now + expires
        return [Reply(_subscribe_ok(device, request, request.to.tag, expires))]
    tag = device.ctx.next_id()
    if expires > 0:
        subscriptions[call_id] = Subscription(
            event=event,
            event_id=_event_id(params),
            call_id=call_id,
            local=request.to.with_tag(tag),
            remote=request.from_,
            target=request.contact or request.from_,
            expires_at=now + expires,
        )
    return [Reply(_subscribe_ok(device, request, tag, expires))]


def _subscribe_ok(device: Device, request: Request, tag: str, expires: int) -> Response:
    link = device.ctx.links[device.link]
    headers = [("Contact", f"<sip:{device.device_id}@{link.host}:{link.port}>"), ("Expires", str(expires))]
    body = b""
    try:
        query = manscdp.parse(request.body).message if request.body else None
    except manscdp.RemoteError:
        query = None
    if query is not None:
        headers.append(("Content-Type", MANSCDP))
        body = CommandResponse(query.cmd_type, query.sn, device.device_id).encode(device.edition, device.charset)
    return make_response(request, 200, to_tag=tag, headers=headers, body=body)


def notify_catalog(device: Device, items: list[CatalogItem], now: float) -> list[Effect]:
    """A Catalog NOTIFY with ``items`` (each carrying its Event) to every live catalog subscription."""
    effects: list[Effect] = []
    for call_id, sub in list(device.subscriptions.items()):
        if sub.expires_at <= now:
            del device.subscriptions[call_id]
            continue
        if sub.is_catalog:
            body = CatalogNotify(device.next_sn(), device.device_id, len(items), tuple(items))
            effects.append(_notify(device, sub, body.encode(device.edition, device.charset), now))
    return effects


def _notify(device: Device, sub: Subscription, body: bytes, now: float) -> Send:
    ctx = device.ctx
    sub.cseq += 1
    sub.notifies += 1
    ident = ctx.next_id()
    event = sub.event if sub.event_id is None else f"{sub.event};id={sub.event_id}"
    remaining = max(0, int(sub.expires_at - now))
    request = build_request(
        ctx,
        ctx.links[device.link],
        "NOTIFY",
        device_id=device.device_id,
        edition=device.edition,
        ident=ident,
        cseq=sub.cseq,
        body=body,
        uri=sub.target.uri,
        from_=sub.local,
        to=sub.remote,
        call_id=sub.call_id,
        headers=[("Event", event), ("Subscription-State", f"active;expires={remaining}")],
        contact=True,
    )
    return Send(request, BRANCH_MAGIC + ident, Purpose.NOTIFY, call_id=sub.call_id)


def _event_id(params: str) -> str | None:
    """The ``id`` parameter of an Event header's parameters (``;id=7``), or None."""
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "id":
            return value.strip() or None
    return None
