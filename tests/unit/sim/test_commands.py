"""DeviceControl (PTZ decoded and remembered, TeleBoot, alarm/guard/record commands), alarms sent to the
platform, and the requests a simulated device refuses (the media seam)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from xueliang.protocol.manscdp import (
    AlarmNotify,
    CommandResponse,
    DeviceControl,
    DeviceInfoQuery,
    LocalError,
    PtzAction,
    PtzCmd,
    Result,
    parse,
)
from xueliang.sim import answers
from xueliang.sim.platform_peer import PlatformPeer

Net = Any


def _bodies(n: Net, kind: type) -> list[Any]:
    found = []
    for request in n.requests("MESSAGE"):
        message = parse(request.body).message
        if isinstance(message, kind):
            found.append(message)
    return found


def test_ptz_is_decoded_and_remembered_per_channel_without_an_answer(net: Callable[..., Net]) -> None:
    n = net(channels=3)
    n.start(1.0)
    device = n.fleet.devices[0]
    first, second = device.channel_ids()[:2]
    raw = "A50F01021F0000D6"  # left at speed 0x1F (annex A, checksum of bytes 1-7)
    assert str(PtzCmd.parse(raw)) == raw
    for channel, command in ((first, PtzCmd.parse(raw)), (second, PtzCmd.preset_call(7)), (first, PtzCmd.stop())):
        answer = n.ask(n.peer.message(device.device_id, DeviceControl.ptz_command(30, channel, command)))
        assert answer.status_code == 200
    n.run(1.0)
    assert device.last_ptz[first] == PtzCmd.stop()
    assert device.last_ptz[second].action is PtzAction.PRESET_CALL and device.last_ptz[second].preset_number == 7
    assert n.fleet.stats.ptz_commands == 3
    assert not _bodies(n, CommandResponse)  # no answer MESSAGE for PTZ


def test_a_left_command_is_read_as_left() -> None:
    command = PtzCmd.parse("A50F01021F0000D6")
    assert command.action is PtzAction.LEFT and command.pan_speed == 0x1F


def test_reset_alarm_guard_and_record_get_a_result(net: Callable[..., Net]) -> None:
    n = net()
    n.start(1.0)
    device_id = n.fleet.devices[0].device_id
    controls = [
        DeviceControl.reset_alarm(51, device_id, alarm_method="2"),
        DeviceControl(52, device_id, guard_cmd="SetGuard"),
        DeviceControl(53, device_id, record_cmd="Record"),
    ]
    for control in controls:
        assert n.ask(n.peer.message(device_id, control)).status_code == 200
    n.run(1.0)
    answers = {answer.sn: answer for answer in _bodies(n, CommandResponse)}
    assert set(answers) == {51, 52, 53}
    assert all(a.cmd_type == "DeviceControl" and a.result is Result.OK for a in answers.values())
    assert n.fleet.devices[0].last_command == controls[-1]


def test_teleboot_goes_silent_then_registers_anew(net: Callable[..., Net]) -> None:
    n = net(keepalive_interval=1, reboot_delay=3.0)
    n.start(2.0)
    device = n.fleet.devices[0]
    call_id = n.requests("REGISTER")[-1].call_id
    answer = n.ask(n.peer.message(device.device_id, DeviceControl.reboot(60, device.device_id)))
    assert answer.status_code == 200
    assert not device.registered and device.reboots == 1
    mark = len(n.log)
    n.run(2.5)
    assert not [m for _, _, m in n.log[mark:] if getattr(m, "method", None) in ("MESSAGE", "REGISTER")]
    n.run(1.0)
    assert device.registered
    assert n.requests("REGISTER")[-1].call_id != call_id  # a rebooted device starts a new registration


def test_alarm_is_answered_and_acknowledged(net: Callable[..., Net]) -> None:
    n = net(channels=2)
    n.start(1.0)
    device = n.fleet.devices[0]
    channel = device.channel_ids()[1]
    record = n.fleet.send_alarm(device.device_id, n.now, channel, priority=2, method=5, alarm_type="2")
    n.run(0.5)
    (alarm,) = _bodies(n, AlarmNotify)
    assert alarm.device_id == channel and alarm.sn == record.sn
    assert alarm.priority == 2 and alarm.method == 5 and alarm.alarm_type == "2"
    assert alarm.longitude is not None and alarm.time is not None
    assert record.status == 200 and record.acknowledged and record.result is Result.OK
    assert device.alarms_acknowledged == [record] and n.fleet.stats.alarms_acknowledged == 1


def test_alarm_without_a_response_stays_unacknowledged(net: Callable[..., Net]) -> None:
    peer = PlatformPeer("34150000002000000001", answer_alarms=False)
    n = net(peer=peer)
    n.start(1.0)
    record = n.fleet.send_alarm(n.fleet.devices[0].device_id, n.now)
    n.run(0.5)
    assert record.status == 200 and not record.acknowledged and record.source_id == n.fleet.devices[0].device_id


def test_invite_is_refused_until_media_exists(net: Callable[..., Net]) -> None:
    n = net()
    n.start(1.0)
    device_id = n.fleet.devices[0].device_id
    assert n.ask(n.peer.request("INVITE", device_id, body=b"v=0\r\n")).status_code == 488
    assert n.ask(n.peer.request("OPTIONS", device_id)).status_code == 200
    assert n.ask(n.peer.request("BYE", device_id)).status_code == 481
    assert n.ask(n.peer.request("PUBLISH", device_id)).status_code == 405


def test_unreadable_body_is_a_400(net: Callable[..., Net]) -> None:
    n = net()
    n.start(1.0)
    device_id = n.fleet.devices[0].device_id
    assert n.ask(n.peer.request("MESSAGE", device_id, body=b"<Query><CmdType>")).status_code == 400


def test_an_answer_that_cannot_be_built_is_a_500(net: Callable[..., Net], monkeypatch: pytest.MonkeyPatch) -> None:
    n = net()
    n.start(1.0)
    device_id = n.fleet.devices[0].device_id

    def broken(*args: object) -> None:
        raise LocalError("encode.value", "cannot encode")

    monkeypatch.setattr(answers, "answer", broken)
    assert n.ask(n.peer.message(device_id, DeviceInfoQuery(1, device_id))).status_code == 500
    assert n.fleet.stats.errors == 1
