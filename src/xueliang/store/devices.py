"""Repository of SIP devices (IPCs, NVRs, lower platforms), their channels, online history, alarms and the
registrations refused because the device is not in the inventory.

Two faces:

- :class:`DeviceStore` is the contract between the signaling service (asyncio, calls these methods through
  ``asyncio.to_thread``), the API and the database. Every method opens and commits its own transaction through
  the session factory it was given. Hot paths never write per message: ``touch`` takes a batch of last-seen
  times, ``record_online_changes`` a batch of online/offline changes (each change is one ``online_event`` row),
  both as one executemany per statement. Its write side (signalling, operator) is
  :class:`~xueliang.store.device_writes.DeviceWrites`, its read side (API lists and details, alarms, channel
  addresses) :class:`~xueliang.store.device_reads.DeviceReads`.
- :class:`~xueliang.store.device_repository.DeviceRepository` works inside the caller's transaction: the
  set-based reads and writes the catalog merge (``xueliang.catalog.device_catalog``, where the rules live) is
  made of: channels of a device, cameras by platform ID in chunked IN lists, bulk inserts (DBAPI executemany on
  SQLite, COPY on PostgreSQL) and grouped executemany updates (:mod:`xueliang.store.device_rows`).

What the store takes and gives (registrations, online changes, summaries, pages, media settings) is in
:mod:`xueliang.store.device_records`.

``device.channel_count`` is the number of video channels (kind ``camera``, not gone) of the last merged catalog;
before any catalog it is the ``Channel`` count the device gave in DeviceInfo. Secrets: ``device.password`` is
encrypted with the platform's :class:`~xueliang.store.crypto.Cipher` and never leaves the store except
decrypted in :meth:`DeviceStore.lookup` (for digest authentication). Timestamps are naive UTC.
"""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from xueliang.store.crypto import Cipher
from xueliang.store.device_reads import DeviceReads
from xueliang.store.device_writes import DeviceWrites

__all__ = ["DeviceStore"]


class DeviceStore(DeviceWrites, DeviceReads):
    """Devices, channels, online history, alarms, refused registrations."""

    def __init__(self, sessions: sessionmaker[Session], cipher: Cipher) -> None:
        self.sessions = sessions
        self.cipher = cipher
