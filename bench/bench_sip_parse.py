"""Benchmark of the sans-IO SIP parser on the message a platform sees most: a device's keepalive MESSAGE.

Measured on one core, each for ``--messages`` rounds over the same bytes:

1. parse + serialise: ``bytes(parse_message(data))``;
2. parse + answer: ``bytes(make_response(parse_message(data), 200))``, what the endpoint does per keepalive;
3. the TCP path: the same messages through ``StreamReader`` in 1,400-byte chunks;
4. the whole keepalive on the full path, what the endpoint and the service do per UDP keepalive:
   ``parse_datagram``, ``stamp_source``, ``server_key``, ``manscdp.parse`` and the 200 OK serialised;
5. the same keepalive on the fast path: ``quick_keepalive`` + ``quick_answer`` (same key, same answer bytes);
6. the baseline, measured in the same run: ``data.split(b"\\r\\n")``, the least any parser must do. The ratio
   says how many times slower than the bare split each path is.

Figures are printed, never asserted.

    python bench/bench_sip_parse.py [--messages 100000]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from xueliang.protocol import manscdp
from xueliang.protocol.sip import (
    NEED_DATA,
    Request,
    StreamReader,
    make_response,
    parse_datagram,
    parse_message,
    quick_answer,
    quick_keepalive,
    server_key,
    stamp_source,
)

KEEPALIVE_BODY = (
    b'<?xml version="1.0" encoding="GB2312"?>\r\n<Notify>\r\n<CmdType>Keepalive</CmdType>\r\n<SN>43</SN>\r\n'
    b"<DeviceID>34020000001320000003</DeviceID>\r\n<Status>OK</Status>\r\n</Notify>\r\n"
)
SOURCE = ("100.64.12.9", 40112)  # the device behind a NAT: the Via is stamped with received and rport
KEEPALIVE = (
    b"MESSAGE sip:34020000002000000001@3402000000 SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 172.16.5.23:5060;rport;branch=z9hG4bK790215412\r\n"
    b"From: <sip:34020000001320000003@3402000000>;tag=217536892\r\n"
    b"To: <sip:34020000002000000001@3402000000>\r\n"
    b"Call-ID: 1986237446@172.16.5.23\r\n"
    b"CSeq: 20 MESSAGE\r\n"
    b"Content-Type: Application/MANSCDP+xml\r\n"
    b"Max-Forwards: 70\r\n"
    b"User-Agent: Uniview\r\n"
    b"Content-Length: %d\r\n\r\n" % len(KEEPALIVE_BODY)
) + KEEPALIVE_BODY


def timed(label: str, rounds: int, run: Callable[[int], int]) -> float:
    start = time.perf_counter()
    done = run(rounds)
    elapsed = time.perf_counter() - start
    rate = done / elapsed
    print(f"{label:<34} {rate:>12,.0f} messages/s  {elapsed / done * 1e6:8.2f} µs each")
    return rate


def baseline(rounds: int) -> int:
    data = KEEPALIVE
    for _ in range(rounds):
        data.split(b"\r\n")
    return rounds


def parse_and_serialise(rounds: int) -> int:
    data = KEEPALIVE
    for _ in range(rounds):
        bytes(parse_message(data))
    return rounds


def parse_and_answer(rounds: int) -> int:
    data = KEEPALIVE
    for _ in range(rounds):
        bytes(make_response(parse_message(data), 200, to_tag="7d0c1e"))  # type: ignore[arg-type]
    return rounds


def keepalive_full_path(rounds: int) -> int:
    data = KEEPALIVE
    for _ in range(rounds):
        message = parse_datagram(data)
        assert isinstance(message, Request)
        message = stamp_source(message, *SOURCE)
        server_key(message)
        manscdp.parse(message.body)
        bytes(make_response(message, 200, to_tag="7d0c1e"))
    return rounds


def keepalive_fast_path(rounds: int) -> int:
    data = KEEPALIVE
    for _ in range(rounds):
        keepalive = quick_keepalive(data)
        assert keepalive is not None
        quick_answer(keepalive, 200, to_tag="7d0c1e", source=SOURCE)
    return rounds


def stream(rounds: int) -> int:
    batch = KEEPALIVE * 100
    chunks = [batch[index : index + 1400] for index in range(0, len(batch), 1400)]
    reader = StreamReader()
    received = 0
    for _ in range(max(1, rounds // 100)):
        for chunk in chunks:
            reader.receive_data(chunk)
            while reader.next_message() is not NEED_DATA:
                received += 1
    return received


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=100_000, help="rounds per measurement")
    rounds = parser.parse_args().messages
    assert parse_message(KEEPALIVE).body == KEEPALIVE_BODY
    full = stamp_source(parse_message(KEEPALIVE), *SOURCE)  # type: ignore[arg-type]
    quick = quick_keepalive(KEEPALIVE)
    assert quick is not None and quick.key == server_key(full)
    assert quick_answer(quick, 200, to_tag="7d0c1e", source=SOURCE) == bytes(make_response(full, 200, to_tag="7d0c1e"))
    print(f"keepalive MESSAGE of {len(KEEPALIVE)} bytes, {rounds:,} rounds each, one core")
    base = timed("baseline bytes.split(b'\\r\\n')", rounds, baseline)
    for label, run in (
        ("parse + serialise", parse_and_serialise),
        ("parse + 200 OK serialised", parse_and_answer),
        ("StreamReader, 1,400-byte chunks", stream),
        ("keepalive, full path", keepalive_full_path),
        ("keepalive, fast path", keepalive_fast_path),
    ):
        rate = timed(label, rounds, run)
        print(f"{'':<34} ratio to baseline: {base / rate:.1f}x slower")


if __name__ == "__main__":
    main()
