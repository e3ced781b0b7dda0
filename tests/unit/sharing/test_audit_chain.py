"""The audit hash chain without a database: canonical bytes, both algorithms, and verification naming the first
bad record (changed field, missing seq, broken link, unknown algorithm, truncated tail, rewritten head)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest

from xueliang.sharing.audit import verify_chain
from xueliang.store.audit import (
    GENESIS,
    AuditRecord,
    AuditStoreError,
    Checkpoint,
    QueuedEvent,
    advance_checkpoint,
    chain_hash,
    read_checkpoint,
    seal,
    sm3_available,
)

T0 = dt.datetime(2026, 3, 2, 1, 0)


def chain(count: int, alg: str = "sha256") -> list[AuditRecord]:
    records: list[AuditRecord] = []
    prev = GENESIS
    for n in range(count):
        event = QueuedEvent(
            T0 + dt.timedelta(seconds=n), "play_start", f"user-{n}", "GA", camera_id="cam", details={"名": str(n)}
        )
        records.append(seal(event, n + 1, prev, alg))
        prev = records[-1].hash
    return records


def first_problem(records: list[AuditRecord], checkpoint: Checkpoint | None = None) -> tuple[str, int] | None:
    problem = verify_chain(records, checkpoint).problem
    return None if problem is None else (problem.kind, problem.seq)


def test_hash_is_over_prev_hash_and_sorted_canonical_utf8_json() -> None:
    record = chain(1)[0]
    canonical = record.canonical()
    assert json.loads(canonical) == {
        "action": "play_start", "actor": "user-0", "actor_unit": "GA", "at": "2026-03-02T01:00:00.000000",
        "camera_id": "cam", "details": {"名": "0"}, "grant_id": None, "hash_alg": "sha256", "outcome": "ok",
        "purpose": None, "seq": 1, "session_id": None, "source_address": None,
    }  # fmt: skip
    assert "名".encode() in canonical and b", " not in canonical
    keys = list(json.loads(canonical))
    assert keys == sorted(keys)
    assert record.hash == hashlib.sha256(GENESIS.encode() + canonical).hexdigest()


def test_aware_times_are_stored_as_naive_utc() -> None:
    shanghai = dt.timezone(dt.timedelta(hours=8))
    aware = seal(QueuedEvent(T0.replace(hour=9, tzinfo=shanghai), "login", "u"), 1, GENESIS, "sha256")
    assert aware.at == T0 and aware.hash == seal(QueuedEvent(T0, "login", "u"), 1, GENESIS, "sha256").hash


@pytest.mark.skipif(not sm3_available(), reason="cryptography without SM3")
def test_sm3_matches_the_standard_vector_and_is_recorded() -> None:
    # GB/T 32905-2016 example 1: SM3("abc")
    assert chain_hash("sm3", "", b"abc") == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    records = chain(3, "sm3")
    assert {r.hash_alg for r in records} == {"sm3"} and verify_chain(records).ok
    # the algorithm's name is hashed too: relabelling a record as sha256 breaks it
    assert first_problem([records[0], dataclasses.replace(records[1], hash_alg="sha256"), records[2]]) == ("altered", 2)


def test_unknown_algorithm() -> None:
    with pytest.raises(AuditStoreError):
        chain_hash("md5", GENESIS, b"")
    records = chain(2)
    assert first_problem([records[0], dataclasses.replace(records[1], hash_alg="md5")]) == ("unknown_alg", 2)


def test_an_intact_chain_verifies() -> None:
    records = chain(5)
    report = verify_chain(records, Checkpoint(5, records[-1].hash))
    assert report.ok and report.records == 5 and report.head == Checkpoint(5, records[-1].hash)
    assert verify_chain([]).ok and verify_chain([]).head is None


def test_a_changed_field_is_named() -> None:
    records = chain(5)
    records[2] = dataclasses.replace(records[2], camera_id="other")
    assert first_problem(records) == ("altered", 3)


def test_a_recomputed_hash_breaks_the_next_link() -> None:
    records = chain(5)
    changed = dataclasses.replace(records[2], actor="someone-else")
    records[2] = dataclasses.replace(changed, hash=changed.expected_hash())
    assert first_problem(records) == ("broken_link", 4)


def test_missing_records_are_named() -> None:
    records = chain(6)
    assert first_problem(records[:2] + records[3:]) == ("missing_seq", 3)
    assert first_problem(records[1:]) == ("missing_seq", 1)
    problem = verify_chain(records[:2] + records[4:]).problem
    assert problem is not None and "3..4" in problem.message


def test_truncated_tail_and_rewritten_head_against_the_checkpoint() -> None:
    records = chain(6)
    assert first_problem(records[:4], Checkpoint(6, records[5].hash)) == ("truncated", 5)
    assert first_problem([], Checkpoint(6, records[5].hash)) == ("truncated", 1)
    assert first_problem(records, Checkpoint(6, "f" * 64)) == ("checkpoint_mismatch", 6)
    assert first_problem(records, Checkpoint(4, records[3].hash)) is None  # the writer has moved on since


def test_checkpoint_file_is_monotonic_and_atomic(tmp_path: Path) -> None:
    path = tmp_path / "audit-head.json"
    assert read_checkpoint(path) is None
    advance_checkpoint(path, Checkpoint(5, "a" * 64))
    advance_checkpoint(path, Checkpoint(3, "b" * 64))  # a slower writer finishing late never moves it back
    assert read_checkpoint(path) == Checkpoint(5, "a" * 64)
    advance_checkpoint(path, Checkpoint(6, "c" * 64))
    assert read_checkpoint(path) == Checkpoint(6, "c" * 64)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audit-head.json", "audit-head.json.lock"]
    path.write_text('{"seq": "six"}')
    with pytest.raises(ValueError, match="not an audit checkpoint"):
        read_checkpoint(path)
