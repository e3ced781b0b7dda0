"""Fragmented answers put back together per (device, SN): complete, partial on timeout, duplicates, SumNum
lies, late fragments; the same machinery for RecordInfo."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from xueliang.protocol import manscdp
from xueliang.protocol.manscdp import (
    AssemblyStatus,
    CatalogAssembler,
    CatalogItem,
    CatalogResponse,
    Charset,
    Edition,
    RecordAssembler,
    RecordInfoResponse,
    fragment_catalog,
)

VECTORS = Path(__file__).resolve().parents[3] / "data" / "manscdp"
NVR = "34150300001180000005"


def _read(name: str) -> CatalogResponse:
    message = manscdp.parse((VECTORS / name).read_bytes()).message
    assert isinstance(message, CatalogResponse)
    return message


def _items(count: int) -> list[CatalogItem]:
    return [
        CatalogItem(f"34150300001320{n:06d}", name=f"裕安区梅山南路{n}号路口", civil_code="341503", status="ON")
        for n in range(1, count + 1)
    ]


def test_one_fragment_complete() -> None:
    assembler = CatalogAssembler(timeout=10)
    response = _read("catalog_2016_gb2312.xml")
    done = assembler.feed(response, now=0.0)
    assert done is not None and done.complete
    assert (done.expected, done.received, done.missing, done.fragments, done.duplicates) == (4, 4, 0, 1, 0)
    assert done.items == response.items and done.notes == ()
    assert len(assembler) == 0


def test_vector_fragments_partial_with_duplicate_and_num_mismatch() -> None:
    assembler = CatalogAssembler(timeout=10)
    assert assembler.feed(_read("catalog_fragment1_num_mismatch.xml"), now=0.0) is None
    assert assembler.feed(_read("catalog_fragment2_duplicate.xml"), now=3.0) is None
    assert assembler.expire(now=12.9) == []  # the idle timer restarted with the second fragment
    (partial,) = assembler.expire(now=13.0)
    assert partial.status is AssemblyStatus.PARTIAL and not partial.complete
    assert (partial.device_id, partial.sn) == (NVR, 88)
    assert (partial.expected, partial.received, partial.missing, partial.duplicates) == (5, 3, 2, 1)
    assert [i.device_id[-2:] for i in partial.items] == ["71", "72", "73"]
    assert partial.has_note("num_mismatch") and not partial.has_note("sum_num_changed")
    assert len(assembler) == 0


def test_many_fragments_from_fragment_catalog() -> None:
    items = _items(25)
    fragments = fragment_catalog(9, NVR, items, edition=Edition.GB2016, charset=Charset.GB2312, max_bytes=1300)
    assert len(fragments) > 3
    assembler = CatalogAssembler()
    wire = [CatalogResponse.from_bytes(f.encode("2016", "gb2312")) for f in fragments]
    results = [assembler.feed(fragment, now=i) for i, fragment in enumerate(wire)]
    assert results[:-1] == [None] * (len(fragments) - 1)
    done = results[-1]
    assert done is not None and done.complete and list(done.items) == items


def test_sum_num_zero_is_complete_at_once() -> None:
    done = CatalogAssembler().feed(CatalogResponse(1, NVR, 0), now=0)
    assert done is not None and done.complete and done.items == () and done.expected == 0


def test_more_items_than_sum_num_then_late_fragment() -> None:
    assembler = CatalogAssembler(timeout=5)
    items = _items(4)
    done = assembler.feed(CatalogResponse(2, NVR, 3, tuple(items)), now=0)
    assert done is not None and done.complete and done.received == 4 and done.has_note("more_than_sum_num")
    assert assembler.feed(CatalogResponse(2, NVR, 3, tuple(items[:1])), now=1) is None
    assert assembler.late_fragments == 1 and len(assembler) == 0
    assert assembler.expire(now=6) == []
    # after the grace period the same (device, SN) is a new answer
    assert assembler.feed(CatalogResponse(2, NVR, 1, tuple(items[:1])), now=7) is not None


def test_sum_num_changing_between_fragments() -> None:
    assembler = CatalogAssembler()
    items = _items(4)
    assert assembler.feed(CatalogResponse(3, NVR, 3, tuple(items[:2])), now=0) is None
    done = assembler.feed(CatalogResponse(3, NVR, 4, tuple(items[2:])), now=1)
    assert done is not None and done.complete and done.expected == 4 and done.has_note("sum_num_changed")


def test_missing_sum_num_takes_the_fragment_as_whole() -> None:
    done = CatalogAssembler().feed(CatalogResponse(4, NVR, None, tuple(_items(2))), now=0)
    assert done is not None and done.complete and done.received == 2 and done.has_note("sum_num_missing")


def test_no_response_is_reported() -> None:
    assembler = CatalogAssembler(timeout=30)
    assembler.expect(NVR, 5, now=0)
    assert len(assembler) == 1 and assembler.expire(now=29) == []
    (silent,) = assembler.expire(now=30)
    assert silent.status is AssemblyStatus.PARTIAL and silent.expected is None and silent.has_note("no_response")


def test_answers_do_not_mix_across_devices_and_sns() -> None:
    assembler = CatalogAssembler()
    items = _items(2)
    other = "34150300001180000006"
    assert assembler.feed(CatalogResponse(6, NVR, 2, (items[0],)), now=0) is None
    assert assembler.feed(CatalogResponse(7, NVR, 2, (items[1],)), now=0) is None
    assert assembler.feed(CatalogResponse(6, other, 2, (items[1],)), now=0) is None
    done = assembler.feed(CatalogResponse(6, NVR, 2, (items[1],)), now=0)
    assert done is not None and (done.device_id, done.sn, done.received) == (NVR, 6, 2)
    assert len(assembler) == 2


def test_item_limit() -> None:
    assembler = CatalogAssembler(max_items=3, timeout=1)
    assert assembler.feed(CatalogResponse(8, NVR, 10, tuple(_items(5))), now=0) is None
    (partial,) = assembler.expire(now=1)
    assert partial.received == 3 and partial.has_note("item_limit")


def test_catalog_notify_fragments_assemble_too() -> None:
    notify = manscdp.parse((VECTORS / "catalog_notify_events.xml").read_bytes()).message
    assert isinstance(notify, manscdp.CatalogNotify)
    done = CatalogAssembler().feed(notify, now=0)
    assert done is not None and [i.event for i in done.items] == ["OFF", "VLOST", "DEL", "ADD"]


def test_record_fragments() -> None:
    first = manscdp.parse((VECTORS / "recordinfo_fragment.xml").read_bytes()).message
    assert isinstance(first, RecordInfoResponse)
    assembler = RecordAssembler(timeout=10)
    assert assembler.feed(first, now=0) is None
    last = dataclasses.replace(
        first,
        items=(
            first.items[1],  # a duplicate
            dataclasses.replace(first.items[1], file_path="ch01_00000000002000102"),
        ),
        num=2,
    )
    done = assembler.feed(last, now=1)
    assert done is not None and done.complete
    assert (done.expected, done.received, done.duplicates) == (3, 3, 1)
    assert [i.file_path[-3:] for i in done.items if i.file_path] == ["100", "101", "102"]


def test_fragment_catalog_budget_and_counts() -> None:
    items = _items(40)
    for charset in (Charset.GB2312, Charset.UTF8):
        for edition in (Edition.GB2016, Edition.GB2022):
            fragments = fragment_catalog(1, NVR, items, edition=edition, charset=charset, max_bytes=1300)
            assert all(len(f.encode(edition, charset)) <= 1300 for f in fragments)
            assert all(f.sum_num == 40 and f.sn == 1 for f in fragments)
            assert [i for f in fragments for i in f.items] == items
    by_count = fragment_catalog(1, NVR, items, max_bytes=None, max_items=15)
    assert [len(f.items) for f in by_count] == [15, 15, 10]
    both = fragment_catalog(1, NVR, items, max_bytes=100_000, max_items=7)
    assert max(len(f.items) for f in both) == 7


def test_fragment_catalog_empty_and_too_large() -> None:
    (empty,) = fragment_catalog(1, NVR, [])
    assert empty.sum_num == 0 and b"<SumNum>0</SumNum>" in bytes(empty)
    huge = CatalogItem("34150300001320000001", name="路口" * 1000)
    try:
        fragment_catalog(1, NVR, [huge], max_bytes=1300)
    except manscdp.LocalError as exc:
        assert exc.rule == "encode.too_large"
    else:
        raise AssertionError("an item larger than the budget must be refused")
