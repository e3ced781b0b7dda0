"""PTZCmd: the 8-byte front-end control command of GB/T 28181 (annex A.3), written as 16 hex characters.

::

    byte 1  A5                       header
    byte 2  version << 4 | check     check = (0xA + 0x5 + version) mod 16: 0F for version 0
    byte 3  address, low 8 bits
    byte 4  command                  00xxxxxx PTZ: 0x20 zoom out, 0x10 zoom in, 0x08 up, 0x04 down, 0x02 left,
                                     0x01 right, 0x00 stop; 0100xxxx FI: 0x48 iris close, 0x44 iris open,
                                     0x42 focus near, 0x41 focus far, 0x40 stop; 0x81/0x82/0x83 preset
                                     set/call/delete; 0x84-0x88 cruise; 0x89/0x8A scan; 0x8C/0x8D auxiliary switch
    byte 5  data1                    pan speed (PTZ), focus speed (FI), cruise/scan group
    byte 6  data2                    tilt speed (PTZ), iris speed (FI), preset number
    byte 7  data3 << 4 | address hi  zoom speed (PTZ) in the high nibble, address bits 8-11 in the low nibble
    byte 8  checksum                 sum of bytes 1-7 mod 256

Stop for address 1 is ``A50F0100000000B5``. :meth:`PtzCmd.parse` checks length, hex, header, both checksums.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from xueliang.protocol.manscdp.errors import LocalError, PtzError

__all__ = ["PtzAction", "PtzCmd", "PtzKind"]

HEADER = 0xA5
ZOOM_OUT, ZOOM_IN, UP, DOWN, LEFT, RIGHT = 0x20, 0x10, 0x08, 0x04, 0x02, 0x01
FI, IRIS_CLOSE, IRIS_OPEN, FOCUS_NEAR, FOCUS_FAR = 0x40, 0x08, 0x04, 0x02, 0x01
PRESET_SET, PRESET_CALL, PRESET_DELETE = 0x81, 0x82, 0x83
CRUISE_ADD, CRUISE_REMOVE, CRUISE_SPEED, CRUISE_DWELL, CRUISE_START = 0x84, 0x85, 0x86, 0x87, 0x88
SCAN, SCAN_SPEED, AUX_ON, AUX_OFF = 0x89, 0x8A, 0x8C, 0x8D


class PtzKind(enum.StrEnum):
    PTZ = "ptz"
    FI = "fi"
    PRESET = "preset"
    CRUISE = "cruise"
    SCAN = "scan"
    AUX = "aux"
    UNKNOWN = "unknown"


class PtzAction(enum.StrEnum):
    """Named commands, as the API and console speak of them."""

    STOP = "stop"
    UP = "up"
    DOWN = "down"
    LEFT = "left"
    RIGHT = "right"
    UP_LEFT = "up_left"
    UP_RIGHT = "up_right"
    DOWN_LEFT = "down_left"
    DOWN_RIGHT = "down_right"
    ZOOM_IN = "zoom_in"
    ZOOM_OUT = "zoom_out"
    FOCUS_NEAR = "focus_near"
    FOCUS_FAR = "focus_far"
    IRIS_OPEN = "iris_open"
    IRIS_CLOSE = "iris_close"
    FI_STOP = "fi_stop"
    PRESET_SET = "preset_set"
    PRESET_CALL = "preset_call"
    PRESET_DELETE = "preset_delete"


_MOVES: dict[PtzAction, int] = {
    PtzAction.STOP: 0,
    PtzAction.UP: UP,
    PtzAction.DOWN: DOWN,
    PtzAction.LEFT: LEFT,
    PtzAction.RIGHT: RIGHT,
    PtzAction.UP_LEFT: UP | LEFT,
    PtzAction.UP_RIGHT: UP | RIGHT,
    PtzAction.DOWN_LEFT: DOWN | LEFT,
    PtzAction.DOWN_RIGHT: DOWN | RIGHT,
    PtzAction.ZOOM_IN: ZOOM_IN,
    PtzAction.ZOOM_OUT: ZOOM_OUT,
}
_FOCUS_IRIS: dict[PtzAction, int] = {
    PtzAction.FI_STOP: FI,
    PtzAction.FOCUS_NEAR: FI | FOCUS_NEAR,
    PtzAction.FOCUS_FAR: FI | FOCUS_FAR,
    PtzAction.IRIS_OPEN: FI | IRIS_OPEN,
    PtzAction.IRIS_CLOSE: FI | IRIS_CLOSE,
}
_PRESETS: dict[PtzAction, int] = {
    PtzAction.PRESET_SET: PRESET_SET,
    PtzAction.PRESET_CALL: PRESET_CALL,
    PtzAction.PRESET_DELETE: PRESET_DELETE,
}
_ACTION_OF: dict[int, PtzAction] = {
    code: action for table in (_MOVES, _FOCUS_IRIS, _PRESETS) for action, code in table.items()
}


def _check(name: str, value: int, high: int, low: int = 0) -> None:
    if not low <= value <= high:
        raise LocalError("encode.ptz", f"PTZ {name} must be {low}-{high}: {value}")


@dataclass(frozen=True, slots=True)
class PtzCmd:
    """One PTZCmd. Build with the named constructors (:meth:`stop`, :meth:`move`, :meth:`preset_call`, ...) or
    :meth:`for_action`; read with :meth:`parse`; ``str()`` is the 16 hex characters, ``bytes()`` the 8 bytes."""

    command: int
    data1: int = 0
    data2: int = 0
    data3: int = 0  # 4 bits: zoom speed
    address: int = 1  # 12 bits
    version: int = 0  # 4 bits

    def __post_init__(self) -> None:
        _check("command", self.command, 0xFF)
        _check("data1", self.data1, 0xFF)
        _check("data2", self.data2, 0xFF)
        _check("data3 (zoom speed)", self.data3, 0x0F)
        _check("address", self.address, 0xFFF)
        _check("version", self.version, 0x0F)

    # -------------------------------------------------------------------------------------------- wire

    @classmethod
    def parse(cls, text: str) -> PtzCmd:
        """Read 16 hex characters (any case, surrounding space ignored). Raises :class:`PtzError`."""
        value = text.strip()
        if len(value) != 16:
            raise PtzError("ptz.length", f"PTZCmd must be 16 hex characters, got {len(value)}: {value[:40]!r}")
        try:
            raw = bytes.fromhex(value)
        except ValueError as exc:
            raise PtzError("ptz.hex", f"PTZCmd is not hexadecimal: {value!r}") from exc
        return cls.from_bytes(raw)

    @classmethod
    def from_bytes(cls, raw: bytes) -> PtzCmd:
        if len(raw) != 8:
            raise PtzError("ptz.length", f"PTZCmd must be 8 bytes, got {len(raw)}")
        if raw[0] != HEADER:
            raise PtzError("ptz.header", f"PTZCmd must start with A5, got {raw[0]:02X}")
        version = raw[1] >> 4
        if raw[1] & 0x0F != _nibble_check(version):
            raise PtzError("ptz.checksum", f"byte 2 check nibble {raw[1]:02X} is wrong for version {version}")
        if sum(raw[:7]) & 0xFF != raw[7]:
            raise PtzError("ptz.checksum", f"checksum {raw[7]:02X} is wrong, expected {sum(raw[:7]) & 0xFF:02X}")
        return cls(raw[3], raw[4], raw[5], raw[6] >> 4, ((raw[6] & 0x0F) << 8) | raw[2], version)

    def __bytes__(self) -> bytes:
        head = bytes(
            (
                HEADER,
                (self.version << 4) | _nibble_check(self.version),
                self.address & 0xFF,
                self.command,
                self.data1,
                self.data2,
                (self.data3 << 4) | (self.address >> 8),
            )
        )
        return head + bytes((sum(head) & 0xFF,))

    def __str__(self) -> str:
        return bytes(self).hex().upper()

    @property
    def hex(self) -> str:
        return str(self)

    # ------------------------------------------------------------------------------------ constructors

    @classmethod
    def stop(cls, address: int = 1) -> PtzCmd:
        return cls(0, address=address)

    @classmethod
    def move(
        cls,
        pan: int = 0,
        tilt: int = 0,
        zoom: int = 0,
        *,
        pan_speed: int = 0x80,
        tilt_speed: int = 0x80,
        zoom_speed: int = 0x8,
        address: int = 1,
    ) -> PtzCmd:
        """Pan (-1 left, +1 right), tilt (-1 down, +1 up) and zoom (-1 out, +1 in) at once; speeds 0-255 and
        0-15. All zero is stop."""
        command = (RIGHT if pan > 0 else LEFT if pan < 0 else 0) | (UP if tilt > 0 else DOWN if tilt < 0 else 0)
        command |= ZOOM_IN if zoom > 0 else ZOOM_OUT if zoom < 0 else 0
        return cls(
            command,
            pan_speed if pan else 0,
            tilt_speed if tilt else 0,
            zoom_speed if zoom else 0,
            address,
        )

    @classmethod
    def focus_iris(cls, focus: int = 0, iris: int = 0, *, speed: int = 0x80, address: int = 1) -> PtzCmd:
        """Focus (-1 near, +1 far) and iris (-1 close, +1 open); both zero stops the lens."""
        command = FI | (FOCUS_FAR if focus > 0 else FOCUS_NEAR if focus < 0 else 0)
        command |= IRIS_OPEN if iris > 0 else IRIS_CLOSE if iris < 0 else 0
        return cls(command, speed if focus else 0, speed if iris else 0, 0, address)

    @classmethod
    def preset(cls, action: PtzAction | str, number: int, *, address: int = 1) -> PtzCmd:
        """Set, call or delete preset ``number`` (1-255)."""
        _check("preset number", number, 0xFF, 1)
        return cls(_PRESETS[PtzAction(action)], 0, number, 0, address)

    @classmethod
    def preset_call(cls, number: int, *, address: int = 1) -> PtzCmd:
        return cls.preset(PtzAction.PRESET_CALL, number, address=address)

    @classmethod
    def preset_set(cls, number: int, *, address: int = 1) -> PtzCmd:
        return cls.preset(PtzAction.PRESET_SET, number, address=address)

    @classmethod
    def preset_delete(cls, number: int, *, address: int = 1) -> PtzCmd:
        return cls.preset(PtzAction.PRESET_DELETE, number, address=address)

    @classmethod
    def for_action(
        cls, action: PtzAction | str, *, speed: int = 0x80, preset: int | None = None, address: int = 1
    ) -> PtzCmd:
        """The command for a named action; ``speed`` 0-255 (zoom uses its top 4 bits), ``preset`` for presets."""
        named = PtzAction(action)
        _check("speed", speed, 0xFF)
        if named in _PRESETS:
            if preset is None:
                raise LocalError("encode.ptz", f"{named} needs a preset number")
            return cls.preset(named, preset, address=address)
        if named in _FOCUS_IRIS:
            code = _FOCUS_IRIS[named]
            return cls(code, speed if code & 0x03 else 0, speed if code & 0x0C else 0, 0, address)
        code = _MOVES[named]
        pan_speed = speed if code & (LEFT | RIGHT) else 0
        tilt_speed = speed if code & (UP | DOWN) else 0
        zoom_speed = max(1, speed >> 4) if code & (ZOOM_IN | ZOOM_OUT) else 0
        return cls(code, pan_speed, tilt_speed, zoom_speed, address)

    # ------------------------------------------------------------------------------------------- reading

    @property
    def kind(self) -> PtzKind:
        code = self.command
        if code < 0x40:
            return PtzKind.PTZ
        if code < 0x80:
            return PtzKind.FI
        if code <= PRESET_DELETE:
            return PtzKind.PRESET if code >= PRESET_SET else PtzKind.UNKNOWN
        if code <= CRUISE_START:
            return PtzKind.CRUISE
        if code <= SCAN_SPEED:
            return PtzKind.SCAN
        if code in (AUX_ON, AUX_OFF):
            return PtzKind.AUX
        return PtzKind.UNKNOWN

    @property
    def action(self) -> PtzAction | None:
        """The named action, None for cruise/scan/aux commands and combinations such as up + zoom in."""
        return _ACTION_OF.get(self.command)

    @property
    def pan_speed(self) -> int:
        return self.data1

    @property
    def tilt_speed(self) -> int:
        return self.data2

    @property
    def zoom_speed(self) -> int:
        return self.data3

    @property
    def preset_number(self) -> int | None:
        return self.data2 if self.kind is PtzKind.PRESET else None


def _nibble_check(version: int) -> int:
    return ((HEADER >> 4) + (HEADER & 0x0F) + version) & 0x0F
