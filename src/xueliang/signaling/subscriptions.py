"""Catalog subscriptions (RFC 6665, ``Event: Catalog``): we subscribe to each device after its first catalog,
refresh before expiry, and hand the NOTIFY events (ON, OFF, VLOST, DEFECT, ADD, DEL, UPDATE) to the catalog
sink (the service receives them: NOTIFY arrives like any request). A device that refuses the subscription is
remembered and not asked again until it re-registers.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from xueliang.protocol import manscdp
from xueliang.protocol.sip import new_call_id, new_tag
from xueliang.signaling.commands import Commands, DeviceUnavailableError
from xueliang.signaling.presence import DeviceSession

log = logging.getLogger(__name__)

REFRESH_AT = 0.8  # of the granted expiry


@dataclass(slots=True)
class Subscription:
    session: DeviceSession
    call_id: str
    from_tag: str
    to_tag: str | None
    expires: int
    refresh_at: float  # monotonic


class Subscriptions:
    """The catalog subscriptions of every registered device."""

    def __init__(self, commands: Commands, *, expires: int) -> None:
        self.commands = commands
        self.expires = expires
        self.active: dict[str, Subscription] = {}
        self._refreshing: set[asyncio.Task[bool]] = set()

    async def subscribe(self, session: DeviceSession, current: Subscription | None = None) -> bool:
        """Subscribe (or refresh ``current``); True when the device accepted."""
        commands = self.commands
        sn = commands.next_sn()
        body = manscdp.CatalogQuery(sn=sn, device_id=session.device_id).encode(session.edition, session.charset)
        call_id = current.call_id if current else new_call_id(commands.via_host(session.peer))
        from_tag = current.from_tag if current else new_tag()
        request = commands.build(
            session,
            "SUBSCRIBE",
            session.device_id,
            body=body,
            headers=(("Event", "Catalog;id=1"), ("Expires", str(self.expires))),
            call_id=call_id,
            from_tag=from_tag,
            to_tag=current.to_tag if current else None,
        )
        try:
            response = await commands.send(session, request)
        except DeviceUnavailableError:
            response = None
        if response is None or not response.success:
            session.subscription = False  # refused or silent: not asked again until it re-registers
            self.active.pop(session.device_id, None)
            commands.endpoint.metrics["subscribe_refused"] += 1
            return False
        granted = response.expires if response.expires is not None else self.expires
        subscription = Subscription(
            session, call_id, from_tag, response.to.tag, granted, time.monotonic() + granted * REFRESH_AT
        )
        session.subscription = subscription
        self.active[session.device_id] = subscription
        commands.endpoint.metrics["subscribed"] += 1
        return True

    def refresh_due(self, now: float) -> None:
        for subscription in list(self.active.values()):
            if subscription.refresh_at <= now:
                subscription.refresh_at = now + 60.0  # not again while this refresh is under way
                task = asyncio.get_running_loop().create_task(self.subscribe(subscription.session, subscription))
                self._refreshing.add(task)
                task.add_done_callback(self._refreshing.discard)

    def drop(self, device_id: str) -> None:
        self.active.pop(device_id, None)

    async def close(self) -> None:
        for task in list(self._refreshing):
            task.cancel()
        self.active.clear()
