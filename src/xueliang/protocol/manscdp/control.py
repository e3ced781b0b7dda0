"""DeviceControl (Control): PTZCmd, TeleBoot, RecordCmd, GuardCmd, AlarmCmd (ResetAlarm), the I-frame request
and HomePosition. The device answers with a Response Result (:class:`~.response.CommandResponse`).

The I-frame element is ``IFameCmd`` in the 2016 text (sic) and ``IFrameCmd`` in 2022 (shared/GB28181.md marks
it unconfirmed): both are read, each edition gets its own spelling. A bad PTZCmd raises :class:`PtzError`.
Other 2022 commands (DragZoomIn, PTZPreciseCtrl, DeviceUpgrade, ...) are kept in ``extra``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from xueliang.domain.ids import Edition
from xueliang.protocol.manscdp.common import Header, Kind, WireMessage, check_header, header_of
from xueliang.protocol.manscdp.ptz import PtzCmd
from xueliang.protocol.manscdp.values import Writer, read_int
from xueliang.protocol.manscdp.xml import Node

__all__ = ["DeviceControl", "HomePosition"]

_KEYS = frozenset(
    {
        "cmdtype",
        "sn",
        "deviceid",
        "ptzcmd",
        "teleboot",
        "recordcmd",
        "guardcmd",
        "alarmcmd",
        "ifamecmd",
        "iframecmd",
        "homeposition",
        "info",
    }
)
_SPELLINGS = {
    name.lower(): name for name in ("Record", "StopRecord", "SetGuard", "ResetGuard", "ResetAlarm", "Boot", "Send")
}


def _canonical(text: str) -> str | None:
    """Command words in their standard spelling (``resetalarm`` -> ``ResetAlarm``); others as received."""
    return _SPELLINGS.get(text.lower(), text) if text else None


@dataclass(frozen=True, slots=True)
class HomePosition:
    """看守位: return to ``preset_index`` after ``reset_time`` seconds idle when enabled."""

    enabled: bool
    reset_time: int | None = None
    preset_index: int | None = None


@dataclass(frozen=True, slots=True)
class DeviceControl(WireMessage):
    KIND = Kind.CONTROL
    CMD_TYPE = "DeviceControl"

    sn: int
    device_id: str
    ptz: PtzCmd | None = None
    tele_boot: bool = False
    record_cmd: str | None = None  # Record / StopRecord
    guard_cmd: str | None = None  # SetGuard / ResetGuard
    alarm_cmd: str | None = None  # ResetAlarm
    alarm_method: str | None = None  # Info/AlarmMethod with AlarmCmd
    alarm_type: str | None = None  # Info/AlarmType with AlarmCmd
    iframe: bool = False
    home_position: HomePosition | None = None
    extra: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        check_header(self.sn, self.device_id)

    # ------------------------------------------------------------------------------------ constructors

    @classmethod
    def ptz_command(cls, sn: int, device_id: str, command: PtzCmd) -> DeviceControl:
        return cls(sn, device_id, ptz=command)

    @classmethod
    def reboot(cls, sn: int, device_id: str) -> DeviceControl:
        return cls(sn, device_id, tele_boot=True)

    @classmethod
    def reset_alarm(
        cls, sn: int, device_id: str, alarm_method: str | None = None, alarm_type: str | None = None
    ) -> DeviceControl:
        return cls(sn, device_id, alarm_cmd="ResetAlarm", alarm_method=alarm_method, alarm_type=alarm_type)

    # ------------------------------------------------------------------------------------------- wire

    @classmethod
    def parse(cls, root: Node, header: Header | None = None) -> DeviceControl:
        head = header_of(root, header)
        ptz_text = root.text("PTZCmd")
        info = root.child("Info")
        home = root.child("HomePosition")
        extra = root.others(_KEYS)
        if info is not None:  # Info beside AlarmCmd; other Info children (2022 ControlPriority, ...) kept
            extra.update(info.others(frozenset({"alarmmethod", "alarmtype"}), "Info/"))
        home_position = None
        if home is not None:
            home_position = HomePosition(
                home.text("Enabled") == "1", read_int(home.text("ResetTime")), read_int(home.text("PresetIndex"))
            )
        return cls(
            head.sn,
            head.device_id,
            PtzCmd.parse(ptz_text) if ptz_text else None,
            bool(root.text("TeleBoot")),
            _canonical(root.text("RecordCmd")),
            _canonical(root.text("GuardCmd")),
            _canonical(root.text("AlarmCmd")),
            (info.text("AlarmMethod") or None) if info is not None else None,
            (info.text("AlarmType") or None) if info is not None else None,
            bool(root.text("IFameCmd") or root.text("IFrameCmd")),
            home_position,
            extra,
        )

    def _write(self, writer: Writer, edition: Edition) -> None:
        if self.ptz is not None:
            writer.field("PTZCmd", str(self.ptz))
        if self.tele_boot:
            writer.field("TeleBoot", "Boot")
        writer.field("RecordCmd", self.record_cmd)
        writer.field("GuardCmd", self.guard_cmd)
        writer.field("AlarmCmd", self.alarm_cmd)
        if self.iframe:
            writer.field("IFrameCmd" if edition is Edition.GB2022 else "IFameCmd", "Send")
        if self.home_position is not None:
            writer.open("HomePosition")
            writer.field("Enabled", 1 if self.home_position.enabled else 0)
            writer.field("ResetTime", self.home_position.reset_time)
            writer.field("PresetIndex", self.home_position.preset_index)
            writer.close()
        inner = {k[5:]: v for k, v in self.extra.items() if k.startswith("Info/")}
        if self.alarm_method or self.alarm_type or inner:
            writer.open("Info")
            writer.field("AlarmMethod", self.alarm_method)
            writer.field("AlarmType", self.alarm_type)
            writer.fields(inner)
            writer.close()
        writer.fields({k: v for k, v in self.extra.items() if not k.startswith("Info/")})
