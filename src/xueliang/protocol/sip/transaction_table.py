"""The RFC 3261 section 17 transaction state tables: every transition of the four kinds of transaction.

:data:`TABLE` maps ``(kind, state, input)`` to ``(next state, actions)``; :data:`STATE_TIMERS` says which
timers may run in each state. :mod:`xueliang.protocol.sip.transactions` walks them; nothing else decides.
Figures 5 to 8 of RFC 3261 are the source; the comments name the sections.
"""

from __future__ import annotations

import enum

__all__ = ["STATE_TIMERS", "TABLE", "TIMER_INPUT", "Action", "Input", "Kind", "State", "Timer"]


class Kind(enum.Enum):
    INVITE_CLIENT = "INVITE client"
    NON_INVITE_CLIENT = "non-INVITE client"
    INVITE_SERVER = "INVITE server"
    NON_INVITE_SERVER = "non-INVITE server"


class State(enum.Enum):
    INITIAL = "initial"
    CALLING = "calling"
    TRYING = "trying"
    PROCEEDING = "proceeding"
    COMPLETED = "completed"
    CONFIRMED = "confirmed"
    TERMINATED = "terminated"


class Timer(enum.Enum):
    A = "A"
    B = "B"
    D = "D"
    E = "E"
    F = "F"
    G = "G"
    H = "H"
    I = "I"  # noqa: E741  (RFC 3261's name)
    J = "J"
    K = "K"


class Input(enum.Enum):
    START = "start"  # client: send the request; server: take the request that created it
    REQUEST = "request"  # server: the request again (a retransmission)
    ACK = "ack"  # INVITE server: the ACK of a 3xx-6xx
    RESPONSE_1XX = "1xx received"
    RESPONSE_2XX = "2xx received"
    RESPONSE_FINAL = "3xx-6xx received"
    SEND_1XX = "1xx sent"
    SEND_2XX = "2xx sent"
    SEND_FINAL = "3xx-6xx sent"
    TRANSPORT_ERROR = "transport error"
    TIMER_A = "timer A"
    TIMER_B = "timer B"
    TIMER_D = "timer D"
    TIMER_E = "timer E"
    TIMER_F = "timer F"
    TIMER_G = "timer G"
    TIMER_H = "timer H"
    TIMER_I = "timer I"
    TIMER_J = "timer J"
    TIMER_K = "timer K"


class Action(enum.Enum):
    TRANSMIT_REQUEST = "transmit the request"
    DELIVER = "deliver the message to the TU"
    TRANSMIT_ACK = "build and transmit the ACK"
    RETRANSMIT_ACK = "transmit the ACK again"
    TRANSMIT_RESPONSE = "transmit the TU's response"
    RETRANSMIT_RESPONSE = "transmit the last response again"
    START_A = "start A (T1, unreliable only)"
    BACKOFF_A = "restart A at twice its interval"
    START_B = "start B (64*T1)"
    START_D = "start D (32 s, 0 reliable)"
    START_E = "start E (T1, unreliable only)"
    BACKOFF_E = "restart E at min(2E, T2)"
    RESTART_E_T2 = "restart E at T2"
    START_F = "start F (64*T1)"
    START_G = "start G (T1, unreliable only)"
    BACKOFF_G = "restart G at min(2G, T2)"
    START_H = "start H (64*T1)"
    START_I = "start I (T4, 0 reliable)"
    START_J = "start J (64*T1, 0 reliable)"
    START_K = "start K (T4, 0 reliable)"
    REPORT_TIMEOUT = "tell the TU: timeout"
    REPORT_TRANSPORT_ERROR = "tell the TU: transport error"


_IC, _NC, _IS, _NS = Kind.INVITE_CLIENT, Kind.NON_INVITE_CLIENT, Kind.INVITE_SERVER, Kind.NON_INVITE_SERVER
_S, _I, _A = State, Input, Action
_ABSORB: tuple[Action, ...] = ()
_FAIL = (_S.TERMINATED, (_A.REPORT_TRANSPORT_ERROR,))

#: (kind, state, input) -> (next state, actions in order). The whole behaviour of RFC 3261 section 17.
TABLE: dict[tuple[Kind, State, Input], tuple[State, tuple[Action, ...]]] = {
    # INVITE client, RFC 3261 17.1.1 (figure 5)
    (_IC, _S.INITIAL, _I.START): (_S.CALLING, (_A.TRANSMIT_REQUEST, _A.START_A, _A.START_B)),
    (_IC, _S.CALLING, _I.TIMER_A): (_S.CALLING, (_A.TRANSMIT_REQUEST, _A.BACKOFF_A)),
    (_IC, _S.CALLING, _I.TIMER_B): (_S.TERMINATED, (_A.REPORT_TIMEOUT,)),
    (_IC, _S.CALLING, _I.RESPONSE_1XX): (_S.PROCEEDING, (_A.DELIVER,)),
    (_IC, _S.CALLING, _I.RESPONSE_2XX): (_S.TERMINATED, (_A.DELIVER,)),
    (_IC, _S.CALLING, _I.RESPONSE_FINAL): (_S.COMPLETED, (_A.DELIVER, _A.TRANSMIT_ACK, _A.START_D)),
    (_IC, _S.CALLING, _I.TRANSPORT_ERROR): _FAIL,
    (_IC, _S.PROCEEDING, _I.RESPONSE_1XX): (_S.PROCEEDING, (_A.DELIVER,)),
    (_IC, _S.PROCEEDING, _I.RESPONSE_2XX): (_S.TERMINATED, (_A.DELIVER,)),
    (_IC, _S.PROCEEDING, _I.RESPONSE_FINAL): (_S.COMPLETED, (_A.DELIVER, _A.TRANSMIT_ACK, _A.START_D)),
    (_IC, _S.PROCEEDING, _I.TRANSPORT_ERROR): _FAIL,
    (_IC, _S.COMPLETED, _I.RESPONSE_1XX): (_S.COMPLETED, _ABSORB),
    (_IC, _S.COMPLETED, _I.RESPONSE_2XX): (_S.COMPLETED, _ABSORB),
    (_IC, _S.COMPLETED, _I.RESPONSE_FINAL): (_S.COMPLETED, (_A.RETRANSMIT_ACK,)),
    (_IC, _S.COMPLETED, _I.TIMER_D): (_S.TERMINATED, _ABSORB),
    (_IC, _S.COMPLETED, _I.TRANSPORT_ERROR): _FAIL,
    # non-INVITE client, RFC 3261 17.1.2 (figure 6)
    (_NC, _S.INITIAL, _I.START): (_S.TRYING, (_A.TRANSMIT_REQUEST, _A.START_E, _A.START_F)),
    (_NC, _S.TRYING, _I.TIMER_E): (_S.TRYING, (_A.TRANSMIT_REQUEST, _A.BACKOFF_E)),
    (_NC, _S.TRYING, _I.TIMER_F): (_S.TERMINATED, (_A.REPORT_TIMEOUT,)),
    (_NC, _S.TRYING, _I.RESPONSE_1XX): (_S.PROCEEDING, (_A.DELIVER,)),
    (_NC, _S.TRYING, _I.RESPONSE_2XX): (_S.COMPLETED, (_A.DELIVER, _A.START_K)),
    (_NC, _S.TRYING, _I.RESPONSE_FINAL): (_S.COMPLETED, (_A.DELIVER, _A.START_K)),
    (_NC, _S.TRYING, _I.TRANSPORT_ERROR): _FAIL,
    (_NC, _S.PROCEEDING, _I.TIMER_E): (_S.PROCEEDING, (_A.TRANSMIT_REQUEST, _A.RESTART_E_T2)),
    (_NC, _S.PROCEEDING, _I.TIMER_F): (_S.TERMINATED, (_A.REPORT_TIMEOUT,)),
    (_NC, _S.PROCEEDING, _I.RESPONSE_1XX): (_S.PROCEEDING, (_A.DELIVER,)),
    (_NC, _S.PROCEEDING, _I.RESPONSE_2XX): (_S.COMPLETED, (_A.DELIVER, _A.START_K)),
    (_NC, _S.PROCEEDING, _I.RESPONSE_FINAL): (_S.COMPLETED, (_A.DELIVER, _A.START_K)),
    (_NC, _S.PROCEEDING, _I.TRANSPORT_ERROR): _FAIL,
    (_NC, _S.COMPLETED, _I.RESPONSE_1XX): (_S.COMPLETED, _ABSORB),
    (_NC, _S.COMPLETED, _I.RESPONSE_2XX): (_S.COMPLETED, _ABSORB),
    (_NC, _S.COMPLETED, _I.RESPONSE_FINAL): (_S.COMPLETED, _ABSORB),
    (_NC, _S.COMPLETED, _I.TIMER_K): (_S.TERMINATED, _ABSORB),
    (_NC, _S.COMPLETED, _I.TRANSPORT_ERROR): _FAIL,
    # INVITE server, RFC 3261 17.2.1 (figure 7)
    (_IS, _S.INITIAL, _I.START): (_S.PROCEEDING, (_A.DELIVER,)),
    (_IS, _S.PROCEEDING, _I.REQUEST): (_S.PROCEEDING, (_A.RETRANSMIT_RESPONSE,)),
    (_IS, _S.PROCEEDING, _I.ACK): (_S.PROCEEDING, _ABSORB),
    (_IS, _S.PROCEEDING, _I.SEND_1XX): (_S.PROCEEDING, (_A.TRANSMIT_RESPONSE,)),
    (_IS, _S.PROCEEDING, _I.SEND_2XX): (_S.TERMINATED, (_A.TRANSMIT_RESPONSE,)),
    (_IS, _S.PROCEEDING, _I.SEND_FINAL): (_S.COMPLETED, (_A.TRANSMIT_RESPONSE, _A.START_G, _A.START_H)),
    (_IS, _S.PROCEEDING, _I.TRANSPORT_ERROR): _FAIL,
    (_IS, _S.COMPLETED, _I.REQUEST): (_S.COMPLETED, (_A.RETRANSMIT_RESPONSE,)),
    (_IS, _S.COMPLETED, _I.ACK): (_S.CONFIRMED, (_A.START_I,)),
    (_IS, _S.COMPLETED, _I.TIMER_G): (_S.COMPLETED, (_A.RETRANSMIT_RESPONSE, _A.BACKOFF_G)),
    (_IS, _S.COMPLETED, _I.TIMER_H): (_S.TERMINATED, (_A.REPORT_TIMEOUT,)),
    (_IS, _S.COMPLETED, _I.TRANSPORT_ERROR): _FAIL,
    (_IS, _S.CONFIRMED, _I.REQUEST): (_S.CONFIRMED, _ABSORB),
    (_IS, _S.CONFIRMED, _I.ACK): (_S.CONFIRMED, _ABSORB),
    (_IS, _S.CONFIRMED, _I.TIMER_I): (_S.TERMINATED, _ABSORB),
    (_IS, _S.CONFIRMED, _I.TRANSPORT_ERROR): _FAIL,
    # non-INVITE server, RFC 3261 17.2.2 (figure 8)
    (_NS, _S.INITIAL, _I.START): (_S.TRYING, (_A.DELIVER,)),
    (_NS, _S.TRYING, _I.REQUEST): (_S.TRYING, _ABSORB),
    (_NS, _S.TRYING, _I.SEND_1XX): (_S.PROCEEDING, (_A.TRANSMIT_RESPONSE,)),
    (_NS, _S.TRYING, _I.SEND_2XX): (_S.COMPLETED, (_A.TRANSMIT_RESPONSE, _A.START_J)),
    (_NS, _S.TRYING, _I.SEND_FINAL): (_S.COMPLETED, (_A.TRANSMIT_RESPONSE, _A.START_J)),
    (_NS, _S.TRYING, _I.TRANSPORT_ERROR): _FAIL,
    (_NS, _S.PROCEEDING, _I.REQUEST): (_S.PROCEEDING, (_A.RETRANSMIT_RESPONSE,)),
    (_NS, _S.PROCEEDING, _I.SEND_1XX): (_S.PROCEEDING, (_A.TRANSMIT_RESPONSE,)),
    (_NS, _S.PROCEEDING, _I.SEND_2XX): (_S.COMPLETED, (_A.TRANSMIT_RESPONSE, _A.START_J)),
    (_NS, _S.PROCEEDING, _I.SEND_FINAL): (_S.COMPLETED, (_A.TRANSMIT_RESPONSE, _A.START_J)),
    (_NS, _S.PROCEEDING, _I.TRANSPORT_ERROR): _FAIL,
    (_NS, _S.COMPLETED, _I.REQUEST): (_S.COMPLETED, (_A.RETRANSMIT_RESPONSE,)),
    (_NS, _S.COMPLETED, _I.TIMER_J): (_S.TERMINATED, _ABSORB),
    (_NS, _S.COMPLETED, _I.TRANSPORT_ERROR): _FAIL,
}

#: The timers that may run in each state; entering a state stops the others.
STATE_TIMERS: dict[tuple[Kind, State], frozenset[Timer]] = {
    (_IC, _S.CALLING): frozenset({Timer.A, Timer.B}),
    (_IC, _S.COMPLETED): frozenset({Timer.D}),
    (_NC, _S.TRYING): frozenset({Timer.E, Timer.F}),
    (_NC, _S.PROCEEDING): frozenset({Timer.E, Timer.F}),
    (_NC, _S.COMPLETED): frozenset({Timer.K}),
    (_IS, _S.COMPLETED): frozenset({Timer.G, Timer.H}),
    (_IS, _S.CONFIRMED): frozenset({Timer.I}),
    (_NS, _S.COMPLETED): frozenset({Timer.J}),
}

#: The input each timer produces when it fires.
TIMER_INPUT = {timer: Input[f"TIMER_{timer.value}"] for timer in Timer}
