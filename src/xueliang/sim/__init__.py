"""Simulators for the demo, tests and benchmarks: sample inventories and GB/T 28181 devices.

Modules (nothing is imported here: ``import xueliang.sim.inventory`` stays light)::

    inventory       sample department inventories (xlsx/csv) of Lu'an cameras
    config          SimConfig: one run of N simulated devices of one kind (IPC, NVR, lower platform)
    catalog_gen     what a device says about itself, derived from its serial: IDs, channels, tree, records
    scheduler       one timer heap for every device, the registration rate limiter
    effects         what a device asks for: Reply, Send, Later; alarm and subscription records
    context         what devices share: links, identifiers, the request builder, the keepalive template, Stats
    device_core     Device: one device's protocol decisions, sans I/O (registration, keepalive, requests)
    answers         answers to queries (Catalog, DeviceInfo, DeviceStatus, RecordInfo), fragmented
    channels        channels as they are now, and the edits (ON/OFF, ADD, UPDATE, DEL) with their NOTIFYs
    subscriptions   SUBSCRIBE (refresh, unsubscribe) and Catalog NOTIFYs
    fleet           Fleet: all devices sans I/O: routing, client transactions, retransmissions, timers
    devices         DeviceSimulator: the asyncio runner (UDP sockets, TCP connections, one timer handle)
    cli             ``xueliang sim devices``
    platform_peer   a minimal platform side, sans I/O, for tests and benchmarks (not the real endpoint)
    peer_server     that peer on real UDP and TCP sockets
"""
