"""Revocations reach every media node at once: a tiny publish/subscribe seam (issue 5).

When a grant is revoked (or expires), the sharing service publishes its id; every subscriber (each media node's
stream sessions, each API process's cached :class:`~xueliang.domain.policy.GrantIndex`) hears it within moments
and stops what the grant allowed. :class:`InProcessRevocationBus` serves the embedded default (one process);
:class:`RedisRevocationBus` carries the same messages over Redis pub/sub when roles run apart.

Delivery is at-most-once, as Redis pub/sub is: a subscriber that was down re-reads the grants from the database
when it starts, and play tokens are short-lived, so a missed message costs seconds, not a leak.

Errors::

    RevocationBusError   the bus cannot publish (the revocation is still committed; callers log and re-publish)
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger(__name__)

CHANNEL = "xueliang:grant-revocations"


class RevocationBusError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Revocation:
    """A grant that must stop serving now (``reason``: revoked | expired)."""

    grant_id: str
    reason: str = "revoked"

    def encode(self) -> str:
        return json.dumps({"grant_id": self.grant_id, "reason": self.reason})

    @classmethod
    def decode(cls, data: str | bytes) -> Revocation:
        parsed = json.loads(data)
        if not isinstance(parsed, dict) or not isinstance(parsed.get("grant_id"), str):
            raise ValueError("a revocation message needs a string grant_id")
        return cls(parsed["grant_id"], str(parsed.get("reason", "revoked")))


Handler = Callable[[Revocation], None]


class Subscription(Protocol):
    def close(self) -> None: ...


class RevocationBus(Protocol):
    def publish(self, revocation: Revocation) -> None: ...

    def subscribe(self, handler: Handler) -> Subscription: ...

    def close(self) -> None: ...


def _deliver(handler: Handler, revocation: Revocation) -> None:
    """One bad subscriber costs a log line, never the others' delivery."""
    try:
        handler(revocation)
    except Exception:
        log.exception("revocation handler failed for grant %s", revocation.grant_id)


class _Unsubscribe:
    def __init__(self, drop: Callable[[], None]) -> None:
        self._drop = drop

    def close(self) -> None:
        self._drop()


class InProcessRevocationBus:
    """Handlers called synchronously in the publisher's thread: every media node is in this process."""

    def __init__(self) -> None:
        self._handlers: list[Handler] = []
        self._lock = threading.Lock()

    def publish(self, revocation: Revocation) -> None:
        with self._lock:
            handlers = list(self._handlers)
        for handler in handlers:
            _deliver(handler, revocation)

    def subscribe(self, handler: Handler) -> Subscription:
        with self._lock:
            self._handlers.append(handler)

        def drop() -> None:
            with self._lock:
                if handler in self._handlers:
                    self._handlers.remove(handler)

        return _Unsubscribe(drop)

    def close(self) -> None:
        with self._lock:
            self._handlers.clear()


try:  # redis-py is a dependency of the scale-out mode; the embedded default runs without it
    import redis
except ImportError:  # pragma: no cover - exercised only where redis-py is absent
    redis = None  # type: ignore[assignment]


class RedisRevocationBus:
    """Revocations over Redis pub/sub; each subscription listens on its own connection in a daemon thread."""

    def __init__(self, url: str, channel: str = CHANNEL) -> None:
        if redis is None:
            raise RevocationBusError("redis-py is not installed: pip install redis")
        self._client: Any = redis.Redis.from_url(url)
        self._channel = channel
        self._subscriptions: list[_RedisSubscription] = []

    def publish(self, revocation: Revocation) -> None:
        try:
            self._client.publish(self._channel, revocation.encode())
        except Exception as exc:
            raise RevocationBusError(f"could not publish the revocation of {revocation.grant_id}: {exc}") from exc

    def subscribe(self, handler: Handler) -> Subscription:
        subscription = _RedisSubscription(self._client, self._channel, handler)
        self._subscriptions.append(subscription)
        return subscription

    def close(self) -> None:
        for subscription in self._subscriptions:
            subscription.close()
        self._subscriptions.clear()
        self._client.close()


class _RedisSubscription:
    def __init__(self, client: Any, channel: str, handler: Handler) -> None:
        self._handler = handler
        self._pubsub = client.pubsub(ignore_subscribe_messages=True)
        self._pubsub.subscribe(**{channel: self._on_message})  # subscribed before this returns: nothing is missed
        self._thread = self._pubsub.run_in_thread(sleep_time=0.05, daemon=True)

    def _on_message(self, message: dict[str, Any]) -> None:
        try:
            revocation = Revocation.decode(message["data"])
        except (ValueError, TypeError, KeyError) as exc:
            log.debug("dropping a malformed revocation message: %s", exc)
            return
        _deliver(self._handler, revocation)

    def close(self) -> None:
        self._thread.stop()
        self._thread.join(timeout=2)
        self._pubsub.close()
