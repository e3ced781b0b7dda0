"""The 8-byte PTZCmd: worked examples, named commands, every check of the decoder, and a round trip."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xueliang.protocol import manscdp
from xueliang.protocol.manscdp import PtzAction, PtzCmd, PtzKind


def _checksum(hex_text: str) -> str:
    """The last byte computed independently: sum of bytes 1-7 mod 256."""
    raw = bytes.fromhex(hex_text[:14])
    return f"{sum(raw) % 256:02X}"


def test_stop_is_the_standard_example() -> None:
    assert str(PtzCmd.stop()) == "A50F0100000000B5"
    assert PtzCmd.parse("A50F0100000000B5") == PtzCmd.stop()
    assert PtzCmd.parse("a50f0100000000b5 ") == PtzCmd.stop()
    assert PtzCmd.stop().action is PtzAction.STOP and PtzCmd.stop().kind is PtzKind.PTZ
    assert bytes(PtzCmd.stop()) == bytes.fromhex("A50F0100000000B5")


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        (PtzAction.UP, "A50F01080080003D"),
        (PtzAction.DOWN, "A50F010400800039"),
        (PtzAction.LEFT, "A50F010280000037"),
        (PtzAction.RIGHT, "A50F010180000036"),
        (PtzAction.UP_LEFT, "A50F010A808000BF"),
        (PtzAction.DOWN_RIGHT, "A50F0105808000BA"),
        (PtzAction.ZOOM_IN, "A50F011000008045"),
        (PtzAction.ZOOM_OUT, "A50F012000008055"),
        (PtzAction.FOCUS_NEAR, "A50F014280000077"),
        (PtzAction.FOCUS_FAR, "A50F014180000076"),
        (PtzAction.IRIS_OPEN, "A50F014400800079"),
        (PtzAction.IRIS_CLOSE, "A50F01480080007D"),
        (PtzAction.FI_STOP, "A50F0140000000F5"),
    ],
)
def test_named_commands(action: PtzAction, expected: str) -> None:
    assert expected[14:] == _checksum(expected)
    command = PtzCmd.for_action(action, speed=0x80)
    assert str(command) == expected
    assert PtzCmd.parse(expected).action is action


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (PtzCmd.preset_set(3), "A50F018100030039"),
        (PtzCmd.preset_call(3), "A50F01820003003A"),
        (PtzCmd.preset_delete(255), "A50F018300FF0037"),
        (PtzCmd.for_action("preset_call", preset=12), "A50F0182000C0043"),
        (PtzCmd.stop(address=0x123), "A50F2300000001D8"),
        (PtzCmd.move(pan=1, tilt=-1, zoom=1, pan_speed=0x10, tilt_speed=0x20, zoom_speed=0xF), "A50F01151020F0EA"),
    ],
)
def test_presets_addresses_and_combined_moves(command: PtzCmd, expected: str) -> None:
    assert expected[14:] == _checksum(expected)
    assert str(command) == expected
    assert PtzCmd.parse(expected) == command


def test_reading_a_command() -> None:
    preset = PtzCmd.parse("A50F01820003003A")
    assert (preset.kind, preset.action, preset.preset_number) == (PtzKind.PRESET, PtzAction.PRESET_CALL, 3)
    move = PtzCmd.move(pan=-1, tilt=1, zoom=-1, pan_speed=10, tilt_speed=20, zoom_speed=3)
    assert (move.pan_speed, move.tilt_speed, move.zoom_speed, move.action) == (10, 20, 3, None)
    assert PtzCmd(0x88, 1).kind is PtzKind.CRUISE
    assert PtzCmd(0x89).kind is PtzKind.SCAN
    assert PtzCmd(0x8C, 1).kind is PtzKind.AUX
    assert PtzCmd(0x80).kind is PtzKind.UNKNOWN and PtzCmd(0xF0).kind is PtzKind.UNKNOWN
    assert PtzCmd.focus_iris().action is PtzAction.FI_STOP
    assert PtzCmd.move().action is PtzAction.STOP


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("A50F0100000000B6", "ptz.checksum"),  # last byte off by one
        ("A50E0100000000B4", "ptz.checksum"),  # byte 2 nibble wrong, byte 8 consistent
        ("A40F0100000000B4", "ptz.header"),
        ("A50F0100000000", "ptz.length"),
        ("A50F0100000000B500", "ptz.length"),
        ("A50F01000000ZZB5", "ptz.hex"),
        ("", "ptz.length"),
    ],
)
def test_decoder_checks(text: str, rule: str) -> None:
    with pytest.raises(manscdp.PtzError) as caught:
        PtzCmd.parse(text)
    assert caught.value.rule == rule


def test_other_versions_with_the_right_nibble_are_accepted() -> None:
    command = PtzCmd(0, version=1)
    assert str(command)[:4] == "A510"  # 0xA + 0x5 + 1 = 16 -> nibble 0
    assert PtzCmd.parse(str(command)) == command


@pytest.mark.parametrize(
    "build",
    [
        lambda: PtzCmd(0x100),
        lambda: PtzCmd(0, data1=256),
        lambda: PtzCmd(0, data3=16),
        lambda: PtzCmd(0, address=0x1000),
        lambda: PtzCmd.preset_call(0),
        lambda: PtzCmd.for_action("up", speed=300),
        lambda: PtzCmd.for_action("preset_set"),
    ],
)
def test_values_the_wire_cannot_carry(build: object) -> None:
    with pytest.raises(manscdp.LocalError):
        build()  # type: ignore[operator]


commands = st.builds(
    PtzCmd,
    command=st.integers(0, 255),
    data1=st.integers(0, 255),
    data2=st.integers(0, 255),
    data3=st.integers(0, 15),
    address=st.integers(0, 0xFFF),
    version=st.integers(0, 15),
)


@given(commands)
def test_round_trip(command: PtzCmd) -> None:
    text = str(command)
    assert len(text) == 16 and text == text.upper()
    assert PtzCmd.parse(text) == command
    assert PtzCmd.from_bytes(bytes(command)) == command


@given(st.binary(min_size=8, max_size=8))
def test_arbitrary_eight_bytes_decode_or_raise_ptz_error(raw: bytes) -> None:
    try:
        command = PtzCmd.from_bytes(raw)
    except manscdp.PtzError:
        return
    assert bytes(command) == raw
