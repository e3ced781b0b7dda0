"""Unit resolution, credential splitting, cursors, and the job runners."""

from __future__ import annotations

import operator
from concurrent.futures import Future

import pytest
from cryptography.fernet import Fernet

from xueliang.catalog.errors import CameraRejectedError, InvalidQueryError
from xueliang.catalog.units import UnitDirectory, auto_code, guess_kind
from xueliang.domain.archive import error
from xueliang.jobs import InlineJobRunner, ProcessJobRunner
from xueliang.store.crypto import FernetCipher, join_credentials, split_credentials
from xueliang.store.keyset import CursorError, decode_cursor, encode_cursor
from xueliang.store.units import UnitInfo

UNITS = [
    UnitInfo(1, "GA", "六安市公安局", "department", "341500", False),
    UnitInfo(2, "JT1", "交通运输局", "department", "341502", False),
    UnitInfo(3, "JT2", "交通运输局", "department", "341503", False),
]


def test_units_resolve_by_code_then_name_and_plan_the_unknown() -> None:
    directory = UnitDirectory(UNITS)
    assert directory.resolve("owner_unit", "GA", strict=False).code == "GA"
    assert directory.resolve("owner_unit", " 六安市 公安局 ", strict=False).code == "GA"
    ambiguous = directory.resolve("owner_unit", "交通运输局", strict=False)
    assert ambiguous.code is None and ambiguous.finding is not None and ambiguous.finding.rule == "unit.ambiguous"
    assert "JT1" in ambiguous.finding.message_zh
    planned = directory.resolve("owner_unit", "皖西宾馆有限公司", strict=False, division_code="341502")
    assert planned.code == auto_code("皖西宾馆有限公司") and planned.finding is None
    again = directory.resolve("management_unit", "皖西宾馆有限公司", strict=False)
    assert again.code == planned.code and len(directory.created_units()) == 1
    assert directory.created_units()[0].kind == "enterprise" and directory.created_units()[0].division_code == "341502"
    strict = UnitDirectory(UNITS).resolve("owner_unit", "皖西宾馆有限公司", strict=True)
    assert strict.code is None and strict.finding is not None and strict.finding.rule == "unit.unknown"


def test_unit_kind_guess() -> None:
    assert guess_kind("六安市城市管理局") == "department"
    assert guess_kind("安徽皖通高速公路股份有限公司") == "enterprise"
    assert guess_kind("梅山社区") == "other"


def test_credentials_split_and_join() -> None:
    url, secret = split_credentials("rtsp://admin:p@ss@10.0.0.1:554/h264?ch=1")
    assert (url, secret) == ("rtsp://10.0.0.1:554/h264?ch=1", "admin:p@ss")
    assert join_credentials(url, secret) == "rtsp://admin:p@ss@10.0.0.1:554/h264?ch=1"
    assert split_credentials("rtsp://10.0.0.1/live") == ("rtsp://10.0.0.1/live", None)
    cipher = FernetCipher(Fernet.generate_key())
    token = cipher.encrypt("admin:secret")
    assert "secret" not in token and cipher.decrypt(token) == "admin:secret"
    assert "key" in repr(cipher) and token not in repr(cipher)


def test_cursors_round_trip_and_refuse_another_sort() -> None:
    cursor = encode_cursor("name", "asc", "金安区梅山路东", 42)
    assert decode_cursor(cursor, "name", "asc") == ("金安区梅山路东", 42)
    with pytest.raises(CursorError):
        decode_cursor(cursor, "name", "desc")
    with pytest.raises(CursorError):
        decode_cursor("not-a-cursor", "name", "asc")
    assert decode_cursor(encode_cursor("install_time", "desc", None, 7), "install_time", "desc") == (None, 7)


def test_catalog_errors_survive_pickling() -> None:
    import pickle

    rejected = CameraRejectedError("34150200001320000001", [error("name", "name.missing", "缺少名称", "no name")])
    copy = pickle.loads(pickle.dumps(rejected))
    assert copy.findings == rejected.findings and copy.zh == rejected.zh
    query = pickle.loads(pickle.dumps(InvalidQueryError("unit", "中", "en")))
    assert (query.parameter, query.zh, query.en) == ("unit", "中", "en")


def test_inline_runner_returns_finished_futures() -> None:
    runner = InlineJobRunner()
    assert runner.submit(operator.add, 2, 3).result() == 5
    failed: Future[float] = runner.submit(operator.truediv, 1, 0)
    assert isinstance(failed.exception(), ZeroDivisionError)


def test_process_runner_runs_in_another_process_and_restarts_after_shutdown() -> None:
    import os

    runner = ProcessJobRunner(max_workers=1)
    try:
        assert runner.submit(os.getpid).result(timeout=60) != os.getpid()
        runner.shutdown()
        assert runner.submit(operator.mul, 6, 7).result(timeout=60) == 42
    finally:
        runner.shutdown()
