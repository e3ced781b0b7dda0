"""One simulated device, sans I/O: parsed requests and responses in (with ``now``), effects out.

A :class:`Device` never sends or sleeps. Its methods return effects the fleet (:mod:`xueliang.sim.fleet`)
carries out: :class:`Reply` (a response to the request being handled), :class:`Send` (a new request, one
client transaction) and :class:`Later` (a timer). Timers carry a generation token (``reg_gen`` for
registration, ``ka_gen`` for keepalives); a timer whose token is stale is ignored, which is how everything
scheduled before a reboot or a lost registration is cancelled.

Registration: REGISTER -> 401 -> REGISTER with digest -> 200 (``Date`` kept as ``server_date``; refresh at
85 % of the granted time); 423 -> again with Min-Expires; 403 or any other refusal or a timeout -> retry after
a doubling backoff. A keepalive answered 4xx, or three keepalives lost, drop the registration and register
again at once (how a platform that restarted asks devices back).

Answers (:mod:`xueliang.sim.answers`): every MANSCDP MESSAGE gets 200 OK at once, then its answer as new
MESSAGEs with the same SN, each fragment sent after the previous one's 200 OK (:class:`Send` ``rest``). A
fragmented answer is encoded one fragment ahead, not whole: ``rest`` holds only the next fragment, and when
the fleet sends it (:meth:`Device.message`) the device takes the one after it from the answer's iterator, found
by the identity of the body it was handed back (``_answering``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator

from xueliang.domain.ids import Edition
from xueliang.protocol import manscdp
from xueliang.protocol.manscdp import (
    AlarmNotify,
    CatalogItem,
    Charset,
    CommandResponse,
    DeviceControl,
    PtzCmd,
    Result,
)
from xueliang.protocol.sip import (
    BRANCH_MAGIC,
    DigestCredentials,
    RemoteProtocolError,
    Request,
    Response,
    answer_challenge,
    challenges_in,
    make_response,
)
from xueliang.sim import answers, channels, subscriptions
from xueliang.sim.context import Context, build_request
from xueliang.sim.effects import (
    Action,
    AlarmRecord,
    Effect,
    KeyframeWanted,
    Later,
    Purpose,
    Reply,
    Send,
    Subscription,
)

__all__ = ["Device"]

ALLOW = "REGISTER, MESSAGE, SUBSCRIBE, NOTIFY, INVITE, ACK, BYE, CANCEL, INFO, OPTIONS"
REFRESH_AT = 0.85  # of the granted registration time
KEEPALIVE_MISSES = 3
MAX_AUTH_TRIES = 3
MAX_OPEN_ANSWERS = 8  # fragmented answers a device continues at once (the oldest, whose sending failed, forgotten)


class Device:
    """State and protocol decisions of one simulated device (see the module docstring)."""

    __slots__ = (
        "_answering",
        "_ptz",
        "alarms",
        "auth_tries",
        "charset",
        "cseq",
        "ctx",
        "device_id",
        "edition",
        "edits",
        "expires",
        "failures",
        "index",
        "ka_gen",
        "keepalive_misses",
        "keepalive_running",
        "keepalives_answered",
        "keepalives_sent",
        "last_command",
        "last_status",
        "link",
        "reboots",
        "reg_call_id",
        "reg_cseq",
        "reg_gen",
        "reg_tag",
        "registered",
        "registered_at",
        "requested_expires",
        "server_date",
        "sn",
        "subscriptions",
    )

    def __init__(self, ctx: Context, index: int, link: int) -> None:
        self.ctx = ctx
        self.index = index
        self.device_id = ctx.content.device_id(index)
        self.link = link
        self.charset: Charset = ctx.config.charset
        self.edition: Edition = ctx.config.edition
        self.registered = False
        self.registered_at: float | None = None
        self.expires = 0  # granted by the last 200
        self.requested_expires = ctx.config.expires
        self.server_date: dt.datetime | None = None  # the Date of the last 200 to REGISTER (time sync)
        self.last_status: int | None = None  # status of the last answer to REGISTER
        self.reg_gen = 0
        self.reg_call_id = ""
        self.reg_tag = ""
        self.reg_cseq = 0
        self.auth_tries = 0
        self.failures = 0
        self.ka_gen = 0
        self.keepalive_running = False
        self.keepalives_sent = 0
        self.keepalives_answered = 0
        self.keepalive_misses = 0
        self.cseq = 0
        self.sn = 0
        self.reboots = 0
        self.last_command: DeviceControl | None = None
        self.subscriptions: dict[str, Subscription] = {}
        self.alarms: list[AlarmRecord] = []
        self._ptz: dict[str, PtzCmd] | None = None
        # answers still being sent: id(next body) -> (that body, the bodies after it)
        self._answering: dict[int, tuple[bytes, Iterator[bytes]]] = {}
        self.edits: channels.ChannelEdits | None = None  # how the channels differ from the generated ones

    def __repr__(self) -> str:
        return f"<Device {self.device_id} registered={self.registered}>"

    # ----------------------------------------------------------------------------------------- views

    @property
    def last_ptz(self) -> dict[str, PtzCmd]:
        """The last PTZ command received per channel ID."""
        return self._ptz if self._ptz is not None else {}

    @property
    def alarms_acknowledged(self) -> list[AlarmRecord]:
        return [alarm for alarm in self.alarms if alarm.acknowledged]

    def channel_ids(self) -> list[str]:
        """The IDs of the video channels (cameras) the device has now."""
        return [item.device_id for item in channels.catalog_items(self) if item.is_video_channel]

    def channel(self, channel_id: str) -> CatalogItem | None:
        return channels.channel(self, channel_id)

    def catalog_items(self) -> list[CatalogItem]:
        return channels.catalog_items(self)

    # ---------------------------------------------------------------------------------- registration

    def begin_registration(self, now: float, *, expires: int | None = None) -> list[Effect]:
        """A fresh REGISTER (new Call-ID; ``expires`` 0 unregisters)."""
        self.reg_gen += 1
        self.auth_tries = 0
        self.requested_expires = self.ctx.config.expires if expires is None else expires
        if not self.reg_call_id or not self.registered:
            ident = self.ctx.next_id()
            self.reg_call_id, self.reg_tag = f"{ident}@{self.ctx.links[self.link].host}", ident
        return [self._register(None)]

    def _register(self, credentials: DigestCredentials | None) -> Send:
        ctx = self.ctx
        self.reg_cseq += 1
        ctx.stats.registrations_sent += 1
        ident = ctx.next_id()
        headers = [("Expires", str(self.requested_expires))]
        if credentials is not None:
            headers.insert(0, ("Authorization", str(credentials)))
        request = build_request(
            ctx,
            ctx.links[self.link],
            "REGISTER",
            device_id=self.device_id,
            edition=self.edition,
            ident=ident,
            cseq=self.reg_cseq,
            from_=ctx.address(self.device_id).with_tag(self.reg_tag),
            to=ctx.address(self.device_id),
            call_id=self.reg_call_id,
            headers=headers,
            contact=True,
        )
        return Send(request, BRANCH_MAGIC + ident, Purpose.REGISTER, token=self.reg_gen)

    def on_register_response(self, response: Response, token: int, now: float) -> list[Effect]:
        if token != self.reg_gen:
            return []  # an older registration's answer
        code = response.status_code
        self.last_status = code
        if code in (401, 407):
            return self._answer_challenge(response, now)
        if code == 423:
            minimum = response.headers.get("Min-Expires")
            if minimum and minimum.strip().isdigit() and self.auth_tries < MAX_AUTH_TRIES:
                self.auth_tries += 1
                self.requested_expires = int(minimum)
                return [self._register(None)]
        if 200 <= code < 300:
            return self._registered(response, now)
        self.ctx.stats.registrations_rejected += 1
        return self._failed(now)

    def on_register_timeout(self, token: int, now: float) -> list[Effect]:
        if token != self.reg_gen:
            return []
        self.ctx.stats.registration_timeouts += 1
        self.last_status = 408
        return self._failed(now)

    def _answer_challenge(self, response: Response, now: float) -> list[Effect]:
        try:
            challenges = challenges_in(response)
        except RemoteProtocolError:
            challenges = []
        if not challenges or self.auth_tries >= MAX_AUTH_TRIES or (self.auth_tries and not challenges[0].stale):
            self.ctx.stats.registrations_rejected += 1
            return self._failed(now)
        self.auth_tries += 1
        credentials = answer_challenge(
            challenges[0],
            username=self.device_id,
            password=self.ctx.config.password_of(self.device_id),
            method="REGISTER",
            uri=str(self.ctx.server_uri),
        )
        return [self._register(credentials)]

    def _registered(self, response: Response, now: float) -> list[Effect]:
        if self.requested_expires == 0:
            self._set_registered(False)
            return []
        granted = _granted_expires(response, self.requested_expires)
        try:
            self.server_date = response.date
        except RemoteProtocolError:
            self.server_date = None
        self.expires = granted
        self.registered_at = now
        self.failures = 0
        self.keepalive_misses = 0
        self.ctx.stats.registrations_ok += 1
        self._set_registered(True)
        effects: list[Effect] = [Later(now + max(1.0, granted * REFRESH_AT), Action.REGISTER, self.reg_gen)]
        if not self.keepalive_running:
            self.keepalive_running = True
            effects.append(Later(self.next_keepalive_at(now), Action.KEEPALIVE, self.ka_gen))
        return effects

    def _failed(self, now: float) -> list[Effect]:
        if self.requested_expires == 0:
            self._set_registered(False)
            return []
        self._drop_registration()
        config = self.ctx.config
        delay = min(config.retry_backoff * 2.0**self.failures, config.retry_backoff_max)
        self.failures += 1
        return [Later(now + delay * self.ctx.rng.uniform(0.8, 1.2), Action.REGISTER, self.reg_gen)]

    def _drop_registration(self) -> None:
        """Registration lost: keepalives stop (a later success restarts them)."""
        self._set_registered(False)
        self.ka_gen += 1
        self.keepalive_running = False

    def disconnected(self) -> None:
        """The TCP connection carrying this device is gone: registration lost, its answers no longer awaited."""
        self._drop_registration()
        self.reg_gen += 1

    def _set_registered(self, registered: bool) -> None:
        if registered != self.registered:
            self.registered = registered
            self.ctx.stats.registered += 1 if registered else -1
            self.ctx.changed()

    # ------------------------------------------------------------------------------------- keepalives

    def next_keepalive_at(self, now: float) -> float:
        """The next keepalive time after ``now`` on this device's phase: device ``i`` of ``n`` keeps alive at
        ``epoch + (i/n + k) * interval``, so the load is even whenever the devices registered."""
        config = self.ctx.config
        interval = config.keepalive_interval
        phase = self.ctx.epoch + interval * self.index / config.count
        periods = max(0, int((now - phase) // interval) + 1)
        return phase + periods * interval

    def keepalive(self, ident: str) -> bytes:
        """The bytes of the next keepalive MESSAGE (precomputed template, see :meth:`Context.keepalive`)."""
        self.cseq += 1
        self.sn += 1
        self.keepalives_sent += 1
        return self.ctx.keepalive(
            self.ctx.links[self.link],
            self.device_id,
            ident=ident,
            cseq=self.cseq,
            sn=self.sn,
            charset=self.charset,
            edition=self.edition,
        )

    def on_keepalive_answer(self, status: int | None, now: float) -> list[Effect]:
        """``status`` None: no answer in time. 4xx (any refusal): register again at once."""
        stats = self.ctx.stats
        if status is not None and 200 <= status < 300:
            self.keepalives_answered += 1
            self.keepalive_misses = 0
            stats.keepalives_answered += 1
            return []
        if status is None:
            stats.keepalive_timeouts += 1
            self.keepalive_misses += 1
            if self.keepalive_misses < KEEPALIVE_MISSES:
                return []
        else:
            stats.keepalives_rejected += 1
        if not self.registered:
            return []
        self._drop_registration()
        self.reg_gen += 1
        return [Later(now, Action.REGISTER, self.reg_gen)]

    # --------------------------------------------------------------------------------------- requests

    def on_request(self, request: Request, now: float) -> list[Effect]:
        """A request of the platform for this device: the reply first, then what follows from it."""
        method = request.method
        if method == "MESSAGE":
            return self._on_message(request, now)
        if method == "SUBSCRIBE":
            return subscriptions.on_subscribe(self, request, now)
        if method == "INVITE":
            return [Reply(self.answer_invite(request, now))]
        if method == "ACK":
            return []
        if method in ("OPTIONS", "NOTIFY"):
            return [Reply(make_response(request, 200, headers=[("Allow", ALLOW)]))]
        if method in ("BYE", "CANCEL", "INFO"):
            return [Reply(make_response(request, 481))]
        return [Reply(make_response(request, 405, headers=[("Allow", ALLOW)]))]

    def answer_invite(self, request: Request, now: float) -> Response:
        """What a fleet without the asyncio runner answers: 488. The runner (:mod:`xueliang.sim.devices`) hands
        INVITE dialogs to :mod:`xueliang.sim.invite` before they reach the fleet, because answering one starts a
        media sender (I/O)."""
        return make_response(request, 488)

    def _on_message(self, request: Request, now: float) -> list[Effect]:
        try:
            parsed = manscdp.parse(request.body)
        except manscdp.RemoteError:
            self.ctx.stats.errors += 1
            return [Reply(make_response(request, 400))]
        message = parsed.message
        effects: list[Effect] = [Reply(make_response(request, 200))]
        stats = self.ctx.stats
        if isinstance(message, CommandResponse):
            if message.cmd_type.lower() == "alarm":
                self._alarm_acknowledged(message, now)
            return effects
        bodies = answers.answer(self, message, now)
        if bodies is None:
            if isinstance(message, DeviceControl):
                effects.extend(self._control(message, now))
            return effects
        stats.queries_answered += 1
        first = next(bodies, None)
        if first is not None:
            effects.append(self._answer(first, bodies))
        return effects

    def _answer(self, body: bytes, following: Iterator[bytes]) -> Send:
        """A MESSAGE of an answer, with the next fragment (encoded now) as its ``rest``: see the module docstring."""
        after = next(following, None)
        if after is None:
            return self.message(body, Purpose.ANSWER)
        answering = self._answering
        answering[id(after)] = (after, following)
        if len(answering) > MAX_OPEN_ANSWERS:
            del answering[next(iter(answering))]
        return self.message(body, Purpose.ANSWER, rest=(after,))

    def _control(self, control: DeviceControl, now: float) -> list[Effect]:
        self.last_command = control
        stats = self.ctx.stats
        stats.queries_answered += 1
        if control.ptz is not None:
            if self._ptz is None:
                self._ptz = {}
            self._ptz[control.device_id] = control.ptz
            stats.ptz_commands += 1
            return []  # the standard asks for no answer to PTZ
        if control.tele_boot:
            return self.reboot(now)
        if control.iframe:
            return [KeyframeWanted(control.device_id)]  # no answer, as for PTZ: the keyframe is the answer
        response = CommandResponse.answer(control, Result.OK)
        return [self.message(response.encode(self.edition, self.charset), Purpose.ANSWER)]

    def reboot(self, now: float) -> list[Effect]:
        """Go down as a reboot does (no keepalives, subscriptions lost) and register anew after the delay."""
        self.reboots += 1
        self.ctx.stats.reboots += 1
        self._drop_registration()
        self.reg_gen += 1
        self.reg_call_id = ""
        self.subscriptions.clear()
        return [Later(now + self.ctx.config.reboot_delay, Action.REBOOTED, self.reg_gen)]

    def message(self, body: bytes, purpose: Purpose, *, rest: tuple[bytes, ...] = ()) -> Send:
        """A MESSAGE to the platform carrying ``body``; the next fragment of an answer handed back from ``rest``
        continues that answer."""
        if purpose is Purpose.ANSWER and not rest and self._answering:
            continued = self._answering.pop(id(body), None)
            if continued is not None and continued[0] is body:
                return self._answer(body, continued[1])
        ctx = self.ctx
        self.cseq += 1
        ident = ctx.next_id()
        request = build_request(
            ctx,
            ctx.links[self.link],
            "MESSAGE",
            device_id=self.device_id,
            edition=self.edition,
            ident=ident,
            cseq=self.cseq,
            body=body,
        )
        return Send(request, BRANCH_MAGIC + ident, purpose, rest=rest)

    def next_sn(self) -> int:
        self.sn += 1
        return self.sn

    def on_notify_answer(self, call_id: str | None, status: int | None) -> None:
        if call_id is not None and status in (481, 489):  # the subscriber forgot the subscription
            self.subscriptions.pop(call_id, None)

    # ----------------------------------------------------------------------------------------- alarms

    def alarm(
        self,
        source_id: str,
        now: float,
        *,
        priority: int = 1,
        method: int = 2,
        alarm_type: str | None = None,
        description: str | None = None,
    ) -> tuple[AlarmRecord, Send]:
        """An Alarm Notify MESSAGE from ``source_id`` (one of our channels, or the device itself)."""
        item = self.channel(source_id)
        sn = self.next_sn()
        body = AlarmNotify(
            sn,
            source_id,
            priority=priority,
            method=method,
            time=self.ctx.local_time().replace(microsecond=0),
            description=description,
            longitude=item.longitude if item is not None else None,
            latitude=item.latitude if item is not None else None,
            alarm_type=alarm_type,
        )
        record = AlarmRecord(self.device_id, source_id, sn, now)
        self.alarms.append(record)
        self.ctx.stats.alarms_sent += 1
        send = self.message(body.encode(self.edition, self.charset), Purpose.ALARM)
        return record, dataclasses.replace(send, alarm=record)

    def on_alarm_answer(self, record: AlarmRecord, status: int | None) -> None:
        record.status = 408 if status is None else status
        self.ctx.changed()

    def _alarm_acknowledged(self, response: CommandResponse, now: float) -> None:
        for record in reversed(self.alarms):
            if record.sn == response.sn and record.result is None:
                record.result = response.result
                record.acknowledged_at = now
                self.ctx.stats.alarms_acknowledged += 1
                self.ctx.changed()
                return


def _granted_expires(response: Response, requested: int) -> int:
    """The registration time a 200 grants: its Expires, our Contact's expires, else what we asked."""
    try:
        if response.expires is not None:
            return response.expires
        contact = response.contact
    except RemoteProtocolError:
        return requested
    value = contact.param("expires") if contact is not None else None
    return int(value) if value is not None and value.isdigit() else requested
