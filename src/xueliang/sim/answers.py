"""The answers a simulated device gives to the platform's queries, as the bodies of the MESSAGEs to send.

Catalog and RecordInfo answers are fragmented (shared/GB28181.md section 2): over UDP each MESSAGE, head and
body, stays within ``udp_max_message`` (1,300 bytes, RFC 3261 18.1.1), which with full catalog items is one or
two items per MESSAGE; over TCP each holds up to ``tcp_catalog_items`` items. Every answer is encoded in the
device's edition and charset.

Answers come as iterators: a catalog's fragments are encoded one at a time as they are sent, so the first leaves
at once (encoding a lower platform's 200,000 items takes seconds; a real one streams them from its database).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from typing import TYPE_CHECKING

from xueliang.protocol.manscdp import (
    AlarmStatusItem,
    CatalogQuery,
    DeviceInfo,
    DeviceInfoQuery,
    DeviceStatus,
    DeviceStatusQuery,
    LocalError,
    Message,
    RecordInfoQuery,
    RecordInfoResponse,
    RecordItem,
    fragment_catalog,
)
from xueliang.sim.context import build_request

if TYPE_CHECKING:
    from xueliang.sim.device_core import Device

__all__ = ["answer", "body_budget"]

HEAD_SLACK = 48  # bytes for the CSeq, identifiers and Content-Length growing after the head was measured
RECORD_WINDOW = dt.timedelta(days=1)  # a RecordInfo query without StartTime looks back this far


def answer(device: Device, message: Message, now: float) -> Iterator[bytes] | None:
    """The bodies answering ``message`` in order, made as they are taken; None when it is not a query
    (controls, responses, commands this simulator does not model)."""
    if isinstance(message, CatalogQuery):
        return catalog(device, message.sn)
    if isinstance(message, DeviceInfoQuery):
        return iter([device_info(device, message.sn)])
    if isinstance(message, DeviceStatusQuery):
        return iter([device_status(device, message.sn)])
    if isinstance(message, RecordInfoQuery):
        return iter(records(device, message))
    return None


def body_budget(device: Device) -> int | None:
    """The largest body one MESSAGE of ``device`` may carry: None over TCP (no limit but the item count)."""
    ctx = device.ctx
    link = ctx.links[device.link]
    if link.reliable:
        return None
    probe = build_request(ctx, link, "MESSAGE", device_id=device.device_id, edition=device.edition, cseq=1, body=b".")
    return ctx.config.udp_max_message - (len(bytes(probe)) - 1) - HEAD_SLACK


def catalog(device: Device, sn: int) -> Iterator[bytes]:
    """The Catalog response fragments, each encoded only when taken (split up front: that is cheap)."""
    budget = body_budget(device)
    items = device.catalog_items()
    max_items = device.ctx.config.tcp_catalog_items if budget is None else None
    edition, charset = device.edition, device.charset
    try:
        fragments = fragment_catalog(
            sn, device.device_id, items, edition=edition, charset=charset, max_bytes=budget, max_items=max_items
        )
    except LocalError:  # an item larger than a datagram on its own: one item per MESSAGE, as large as it is
        fragments = fragment_catalog(
            sn, device.device_id, items, edition=edition, charset=charset, max_bytes=None, max_items=1
        )
    return (fragment.encode(edition, charset) for fragment in fragments)


def device_info(device: Device, sn: int) -> bytes:
    facts = device.ctx.content.facts(device.index)
    info = DeviceInfo(
        sn,
        device.device_id,
        device_name=facts.name,
        manufacturer=facts.manufacturer,
        model=facts.model,
        firmware=facts.firmware,
        channel=len(device.channel_ids()),
    )
    return info.encode(device.edition, device.charset)


def device_status(device: Device, sn: int) -> bytes:
    """Online, working, encoding and recording; the duty status of each channel when it fits a datagram."""
    base = DeviceStatus(
        sn,
        device.device_id,
        online="ONLINE",
        status="OK",
        encode_status="ON",
        record_status="ON",
        device_time=device.ctx.local_time().replace(microsecond=0),
    )
    duty = tuple(AlarmStatusItem(channel_id, "ONDUTY") for channel_id in device.channel_ids())
    full = dataclasses.replace(base, alarm_status=duty).encode(device.edition, device.charset)
    budget = body_budget(device)
    if budget is None or len(full) <= budget:
        return full
    return base.encode(device.edition, device.charset)


def records(device: Device, query: RecordInfoQuery) -> list[bytes]:
    """Hourly recordings of the queried channel inside the window (never after the device's clock)."""
    ctx = device.ctx
    channel = device.channel(query.device_id)
    now_local = ctx.local_time().replace(microsecond=0)
    items: list[RecordItem] = []
    if channel is not None:
        end = min(query.end_time or now_local, now_local)
        start = query.start_time or end - RECORD_WINDOW
        items = ctx.content.records(channel.device_id, channel.name, start, end, limit=ctx.config.max_record_items)
    return _record_fragments(device, query.sn, query.device_id, channel.name if channel else None, items)


def _record_fragments(
    device: Device, sn: int, channel_id: str, name: str | None, items: list[RecordItem]
) -> list[bytes]:
    """RecordInfo responses sharing ``sn``, packed greedily under the datagram budget (or by count over TCP)."""
    edition, charset, total = device.edition, device.charset, len(items)

    def encode(batch: list[RecordItem]) -> bytes:
        return RecordInfoResponse(sn, channel_id, total, tuple(batch), name).encode(edition, charset)

    if not items:
        return [encode([])]
    budget = body_budget(device)
    if budget is None:
        step = device.ctx.config.tcp_catalog_items
        return [encode(items[start : start + step]) for start in range(0, total, step)]
    bodies: list[bytes] = []
    batch: list[RecordItem] = []
    current = b""
    for item in items:
        candidate = encode([*batch, item])
        if batch and len(candidate) > budget:
            bodies.append(current)
            batch = [item]
            current = encode(batch)
        else:
            batch.append(item)
            current = candidate
    bodies.append(current)
    return bodies
