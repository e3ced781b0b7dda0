"""RFC 3261 transactions: the whole table walked, illegal inputs, timer walks on UDP and TCP, matching keys."""

from __future__ import annotations

import itertools

import pytest

from xueliang.protocol.sip import (
    ClientTransaction,
    CSeq,
    Deliver,
    Event,
    LocalProtocolError,
    NameAddr,
    Request,
    Response,
    ServerTransaction,
    SipUri,
    State,
    Terminated,
    Timeout,
    Timer,
    TimerValues,
    Transmit,
    TransportFailed,
    Via,
    client_key,
    make_ack,
    make_request,
    make_response,
    parse_message,
    server_key,
    stamp_source,
)
from xueliang.protocol.sip.transaction_table import STATE_TIMERS, TABLE, Action, Input, Kind
from xueliang.protocol.sip.transactions import Transaction

T1, T2, T4 = 0.5, 4.0, 5.0


def request(method: str, *, branch: str = "z9hG4bKtx1", cseq: int = 1) -> Request:
    return make_request(
        method,
        SipUri(user="34020000001320000001", host="3402000000"),
        via=Via(transport="UDP", host="192.168.1.2", port=5060, params=(("branch", branch),)),
        from_=NameAddr(uri=SipUri(user="34020000002000000001", host="3402000000"), params=(("tag", "f1"),)),
        to=NameAddr(uri=SipUri(user="34020000001320000001", host="3402000000")),
        call_id="tx-call@192.168.1.2",
        cseq=cseq,
    )


def ack_for(invite: Request, final: Response) -> Request:
    return make_ack(invite, final)


def transmits(events: list[Event]) -> list[Transmit]:
    return [event for event in events if isinstance(event, Transmit)]


def run_timers(tx: Transaction, until: float) -> list[tuple[float, Event]]:
    """Drive ``tx`` on a virtual clock: jump to each deadline and fire what is due."""
    log: list[tuple[float, Event]] = []
    while (deadline := tx.next_deadline()) is not None and deadline <= until:
        log.extend((deadline, event) for event in tx.poll(deadline))
    return log


# ------------------------------------------------------------------------------------------------ the table walk

METHOD = {
    Kind.INVITE_CLIENT: "INVITE",
    Kind.NON_INVITE_CLIENT: "MESSAGE",
    Kind.INVITE_SERVER: "INVITE",
    Kind.NON_INVITE_SERVER: "MESSAGE",
}
CLIENT_KINDS = (Kind.INVITE_CLIENT, Kind.NON_INVITE_CLIENT)
# how to reach each state from a fresh transaction: inputs applied in order
PATHS: dict[tuple[Kind, State], tuple[Input, ...]] = {
    (Kind.INVITE_CLIENT, State.INITIAL): (),
    (Kind.INVITE_CLIENT, State.CALLING): (Input.START,),
    (Kind.INVITE_CLIENT, State.PROCEEDING): (Input.START, Input.RESPONSE_1XX),
    (Kind.INVITE_CLIENT, State.COMPLETED): (Input.START, Input.RESPONSE_FINAL),
    (Kind.NON_INVITE_CLIENT, State.INITIAL): (),
    (Kind.NON_INVITE_CLIENT, State.TRYING): (Input.START,),
    (Kind.NON_INVITE_CLIENT, State.PROCEEDING): (Input.START, Input.RESPONSE_1XX),
    (Kind.NON_INVITE_CLIENT, State.COMPLETED): (Input.START, Input.RESPONSE_2XX),
    (Kind.INVITE_SERVER, State.INITIAL): (),
    (Kind.INVITE_SERVER, State.PROCEEDING): (Input.START,),
    (Kind.INVITE_SERVER, State.COMPLETED): (Input.START, Input.SEND_FINAL),
    (Kind.INVITE_SERVER, State.CONFIRMED): (Input.START, Input.SEND_FINAL, Input.ACK),
    (Kind.NON_INVITE_SERVER, State.INITIAL): (),
    (Kind.NON_INVITE_SERVER, State.TRYING): (Input.START,),
    (Kind.NON_INVITE_SERVER, State.PROCEEDING): (Input.START, Input.SEND_1XX),
    (Kind.NON_INVITE_SERVER, State.COMPLETED): (Input.START, Input.SEND_2XX),
}
CLIENT_INPUTS = (Input.START, Input.RESPONSE_1XX, Input.RESPONSE_2XX, Input.RESPONSE_FINAL, Input.TRANSPORT_ERROR)
SERVER_INPUTS = (
    Input.START,
    Input.REQUEST,
    Input.ACK,
    Input.SEND_1XX,
    Input.SEND_2XX,
    Input.SEND_FINAL,
    Input.TRANSPORT_ERROR,
)
TIMER_INPUTS = tuple(input_ for input_ in Input if input_.name.startswith("TIMER_"))
STATUS = {
    Input.RESPONSE_1XX: 180,
    Input.RESPONSE_2XX: 200,
    Input.RESPONSE_FINAL: 486,
    Input.SEND_1XX: 100,
    Input.SEND_2XX: 200,
    Input.SEND_FINAL: 486,
}


def new(kind: Kind) -> Transaction:
    created = request(METHOD[kind])
    if kind in CLIENT_KINDS:
        return ClientTransaction(created, reliable=False)
    return ServerTransaction(created, reliable=False)


def apply(tx: Transaction, input_: Input, now: float = 0.0) -> list[Event]:
    if input_ is Input.START:
        assert isinstance(tx, ClientTransaction | ServerTransaction)
        return tx.start(now)
    if input_ is Input.TRANSPORT_ERROR:
        return tx.transport_error(now)
    if input_ in TIMER_INPUTS:
        return tx.timer_fired(Timer[input_.name.removeprefix("TIMER_")], now)
    if input_ in (Input.RESPONSE_1XX, Input.RESPONSE_2XX, Input.RESPONSE_FINAL):
        assert isinstance(tx, ClientTransaction)
        return tx.receive(make_response(tx.request, STATUS[input_], to_tag="dev"), now)
    assert isinstance(tx, ServerTransaction)
    if input_ is Input.REQUEST:
        return tx.receive(tx.request, now)
    if input_ is Input.ACK:
        return tx.receive(ack_for(tx.request, make_response(tx.request, 486, to_tag="us")), now)
    return tx.send(make_response(tx.request, STATUS[input_], to_tag="us"), now)


def reach(kind: Kind, state: State) -> Transaction:
    tx = new(kind)
    for input_ in PATHS[(kind, state)]:
        apply(tx, input_)
    assert tx.state is state
    return tx


@pytest.mark.parametrize("key", list(TABLE), ids=lambda key: f"{key[0].name}-{key[1].name}-{key[2].name}")
def test_every_table_entry(key: tuple[Kind, State, Input]) -> None:
    kind, state, input_ = key
    next_state, actions = TABLE[key]
    tx = reach(kind, state)
    if input_ in TIMER_INPUTS:
        timer = Timer[input_.name.removeprefix("TIMER_")]
        assert timer in tx.deadlines(), f"the path to {state} must start timer {timer.value}"
    events = apply(tx, input_, now=1.0)
    assert tx.state is next_state
    kinds = {type(event) for event in events}
    assert (Terminated in kinds) is (next_state is State.TERMINATED and state is not State.TERMINATED)
    assert (Deliver in kinds) is (Action.DELIVER in actions)
    assert (Timeout in kinds) is (Action.REPORT_TIMEOUT in actions)
    assert (TransportFailed in kinds) is (Action.REPORT_TRANSPORT_ERROR in actions)
    sends = {
        Action.TRANSMIT_REQUEST,
        Action.TRANSMIT_ACK,
        Action.RETRANSMIT_ACK,
        Action.TRANSMIT_RESPONSE,
        Action.RETRANSMIT_RESPONSE,
    }
    if not sends.intersection(actions):
        assert Transmit not in kinds
    elif (
        Action.RETRANSMIT_RESPONSE not in actions or tx.kind is not Kind.INVITE_SERVER or state is not State.PROCEEDING
    ):
        assert Transmit in kinds  # (an INVITE server in Proceeding has no provisional to repeat on this path)
    assert set(tx.deadlines()) <= STATE_TIMERS.get((kind, tx.state), frozenset())


@pytest.mark.parametrize(("kind", "state"), list(PATHS), ids=lambda value: value.name)
def test_inputs_outside_the_table_raise(kind: Kind, state: State) -> None:
    inputs = (CLIENT_INPUTS if kind in CLIENT_KINDS else SERVER_INPUTS) + TIMER_INPUTS
    for input_ in inputs:
        if (kind, state, input_) in TABLE:
            continue
        tx = reach(kind, state)
        with pytest.raises(LocalProtocolError):
            apply(tx, input_)


def test_remote_inputs_are_listed_in_every_live_state() -> None:
    for (kind, state), _ in PATHS.items():
        if state is State.INITIAL:
            continue
        remote = (
            (Input.RESPONSE_1XX, Input.RESPONSE_2XX, Input.RESPONSE_FINAL) if kind in CLIENT_KINDS else (Input.REQUEST,)
        )
        if kind is Kind.INVITE_SERVER:
            remote += (Input.ACK,)
        for input_ in (*remote, Input.TRANSPORT_ERROR):
            assert (kind, state, input_) in TABLE, (kind, state, input_)


def test_the_table_only_names_reachable_states() -> None:
    for kind, state, _ in TABLE:
        assert (kind, state) in PATHS
    for _, (next_state, _actions) in TABLE.items():
        assert next_state in {state for _, state in PATHS} | {State.TERMINATED}


@pytest.mark.parametrize("kind", list(Kind), ids=lambda kind: kind.name)
def test_nothing_is_allowed_after_terminated(kind: Kind) -> None:
    tx = new(kind)
    apply(tx, Input.START)
    tx.transport_error(0.0)
    assert tx.terminated and tx.next_deadline() is None
    for input_ in CLIENT_INPUTS if kind in CLIENT_KINDS else SERVER_INPUTS:
        with pytest.raises(LocalProtocolError):
            apply(tx, input_)


# ------------------------------------------------------------------------------------------------ timer walks


def test_non_invite_client_over_udp_retransmits_doubling_to_t2_then_times_out() -> None:
    tx = ClientTransaction(request("MESSAGE"), reliable=False)
    first = tx.start(0.0)
    assert [type(event) for event in first] == [Transmit]
    assert tx.deadlines() == {Timer.E: T1, Timer.F: 64 * T1}
    log = run_timers(tx, 100.0)
    sent_at = [at for at, event in log if isinstance(event, Transmit)]
    intervals = [round(b - a, 3) for a, b in itertools.pairwise([0.0, *sent_at])]
    assert intervals[:5] == [0.5, 1.0, 2.0, 4.0, 4.0]  # E doubles, capped at T2
    assert set(intervals[3:]) == {T2}
    assert sent_at[-1] <= 64 * T1
    assert [type(event) for _, event in log[-2:]] == [Timeout, Terminated]
    assert log[-1][0] == 64 * T1
    assert isinstance(log[-2][1], Timeout) and log[-2][1].timer is Timer.F
    assert len(sent_at) == 10  # 0.5 1.5 3.5 7.5 11.5 ... 31.5
    assert tx.state is State.TERMINATED


def test_invite_client_over_udp_doubles_without_cap_and_times_out_at_64_t1() -> None:
    tx = ClientTransaction(request("INVITE"), reliable=False)
    tx.start(0.0)
    log = run_timers(tx, 100.0)
    sent_at = [at for at, event in log if isinstance(event, Transmit)]
    assert sent_at == [0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
    assert [(at, type(event)) for at, event in log[-2:]] == [(32.0, Timeout), (32.0, Terminated)]


@pytest.mark.parametrize("method", ["INVITE", "MESSAGE"])
def test_client_over_tcp_never_retransmits(method: str) -> None:
    tx = ClientTransaction(request(method), reliable=True)
    tx.start(0.0)
    assert set(tx.deadlines()) == {Timer.B if method == "INVITE" else Timer.F}
    log = run_timers(tx, 100.0)
    assert [(at, type(event)) for at, event in log] == [(32.0, Timeout), (32.0, Terminated)]


def test_non_invite_client_proceeding_retransmits_at_t2() -> None:
    tx = ClientTransaction(request("MESSAGE"), reliable=False)
    tx.start(0.0)
    tx.receive(make_response(tx.request, 100), 0.1)
    assert tx.state is State.PROCEEDING
    log = run_timers(tx, 10.0)
    sent_at = [at for at, event in log if isinstance(event, Transmit)]
    assert sent_at == [0.5, 4.5, 8.5]


def test_non_invite_client_completes_then_waits_t4_on_udp_and_not_on_tcp() -> None:
    for reliable, wait in ((False, T4), (True, None)):
        tx = ClientTransaction(request("MESSAGE"), reliable=reliable)
        tx.start(0.0)
        ok = make_response(tx.request, 200, to_tag="dev")
        events = tx.receive(ok, 0.2)
        assert isinstance(events[0], Deliver) and events[0].message == ok
        if wait is None:
            assert tx.state is State.TERMINATED and isinstance(events[-1], Terminated)
            continue
        assert tx.state is State.COMPLETED and tx.deadlines() == {Timer.K: 0.2 + T4}
        assert tx.receive(ok, 0.3) == []  # a retransmitted final response is absorbed
        assert [type(event) for event in tx.poll(0.2 + T4)] == [Terminated]


def test_invite_client_acks_a_failure_and_again_for_each_retransmission() -> None:
    invite = request("INVITE")
    tx = ClientTransaction(invite, reliable=False)
    tx.start(0.0)
    assert tx.receive(make_response(invite, 100), 0.1) == [Deliver(make_response(invite, 100))]
    busy = make_response(invite, 486, to_tag="dev")
    events = tx.receive(busy, 0.2)
    assert isinstance(events[0], Deliver)
    ack = events[1]
    assert isinstance(ack, Transmit)
    sent = parse_message(ack.data)
    assert isinstance(sent, Request)
    assert (sent.method, sent.cseq, sent.to.tag, sent.via.branch) == ("ACK", CSeq(1, "ACK"), "dev", "z9hG4bKtx1")
    assert tx.deadlines() == {Timer.D: 0.2 + 32.0}
    again = tx.receive(busy, 0.3)
    assert [type(event) for event in again] == [Transmit] and again[0].data == ack.data
    assert [type(event) for _, event in run_timers(tx, 100)] == [Terminated]


def test_invite_client_2xx_ends_the_transaction() -> None:
    tx = ClientTransaction(request("INVITE"), reliable=False)
    tx.start(0.0)
    events = tx.receive(make_response(tx.request, 200, to_tag="dev"), 0.3)
    assert [type(event) for event in events] == [Deliver, Terminated]


def test_invite_server_retransmits_its_failure_until_ack_then_absorbs() -> None:
    invite = request("INVITE")
    tx = ServerTransaction(invite, reliable=False)
    assert tx.start(0.0) == [Deliver(invite)]
    assert tx.receive(invite, 0.05) == []  # nothing sent yet
    trying = make_response(invite, 100)
    assert transmits(tx.send(trying, 0.1))[0].data == bytes(trying)
    assert transmits(tx.receive(invite, 0.2))[0].data == bytes(trying)  # the provisional again
    busy = make_response(invite, 486, to_tag="us")
    tx.send(busy, 1.0)
    assert tx.deadlines() == {Timer.G: 1.0 + T1, Timer.H: 1.0 + 64 * T1}
    log = run_timers(tx, 12.0)
    assert [at for at, _ in log] == [1.5, 2.5, 4.5, 8.5]  # then 12.5, after the ACK
    assert all(isinstance(event, Transmit) and event.data == bytes(busy) for _, event in log)
    with pytest.raises(LocalProtocolError):
        tx.send(make_response(invite, 200), 12.0)  # one final response only
    assert tx.receive(ack_for(invite, busy), 12.0) == []
    assert tx.state is State.CONFIRMED and tx.deadlines() == {Timer.I: 12.0 + T4}
    assert tx.receive(ack_for(invite, busy), 12.1) == []
    assert [type(event) for event in tx.poll(17.0)] == [Terminated]


def test_invite_server_without_ack_times_out_with_timer_h() -> None:
    invite = request("INVITE")
    tx = ServerTransaction(invite, reliable=False)
    tx.start(0.0)
    tx.send(make_response(invite, 404, to_tag="us"), 0.0)
    log = run_timers(tx, 100.0)
    retransmits = [at for at, event in log if isinstance(event, Transmit)]
    assert retransmits[:5] == [0.5, 1.5, 3.5, 7.5, 11.5]  # G doubles up to T2
    assert [(at, type(event)) for at, event in log[-2:]] == [(32.0, Timeout), (32.0, Terminated)]
    assert isinstance(log[-2][1], Timeout) and log[-2][1].timer is Timer.H


def test_invite_server_over_tcp_confirms_and_terminates_at_once() -> None:
    invite = request("INVITE")
    tx = ServerTransaction(invite, reliable=True)
    tx.start(0.0)
    tx.send(make_response(invite, 486, to_tag="us"), 0.0)
    assert set(tx.deadlines()) == {Timer.H}  # no G on TCP
    assert [type(event) for event in tx.receive(ack_for(invite, make_response(invite, 486, to_tag="us")), 0.1)] == [
        Terminated
    ]


def test_invite_server_2xx_ends_the_transaction() -> None:
    invite = request("INVITE")
    tx = ServerTransaction(invite, reliable=False)
    tx.start(0.0)
    assert [type(event) for event in tx.send(make_response(invite, 200, to_tag="us"), 0.0)] == [Transmit, Terminated]


def test_non_invite_server_answers_retransmissions_and_waits_64_t1_on_udp() -> None:
    message = request("MESSAGE")
    for reliable in (False, True):
        tx = ServerTransaction(message, reliable=reliable)
        tx.start(0.0)
        assert tx.receive(message, 0.1) == []  # Trying: absorbed
        ok = make_response(message, 200, to_tag="us")
        events = tx.send(ok, 0.2)
        if reliable:
            assert [type(event) for event in events] == [Transmit, Terminated]
            continue
        assert tx.deadlines() == {Timer.J: 0.2 + 64 * T1}
        assert transmits(tx.receive(message, 5.0))[0].data == bytes(ok)
        assert [type(event) for event in tx.poll(40.0)] == [Terminated]


def test_custom_timer_values() -> None:
    tx = ClientTransaction(request("MESSAGE"), reliable=False, timers=TimerValues(t1=0.1, t2=0.4, t4=1.0))
    tx.start(10.0)
    assert tx.deadlines() == {Timer.E: 10.1, Timer.F: 10.0 + 6.4}


# ------------------------------------------------------------------------------------------------ matching


def test_client_key_matches_responses_by_branch_and_method() -> None:
    message = request("MESSAGE")
    tx = ClientTransaction(message, reliable=False)
    assert client_key(make_response(message, 200)) == tx.key
    other = request("MESSAGE", branch="z9hG4bKother")
    with pytest.raises(LocalProtocolError):
        tx.receive(make_response(other, 200), 0.0)


def test_server_key_ack_maps_to_invite_and_cancel_finds_its_invite() -> None:
    invite = request("INVITE")
    tx = ServerTransaction(invite, reliable=False)
    ack = ack_for(invite, make_response(invite, 486, to_tag="us"))
    assert server_key(ack) == tx.key
    cancel = Request(method="CANCEL", uri=invite.uri, headers=invite.headers.set("CSeq", "1 CANCEL"))
    assert server_key(cancel) != tx.key
    assert server_key(cancel, method="INVITE") == tx.key
    with pytest.raises(LocalProtocolError):
        tx.receive(request("INVITE", branch="z9hG4bKelse"), 0.0)


def test_rfc_2543_fallback_key() -> None:
    old = request("INVITE", branch="1234")  # no magic cookie
    key = server_key(old)
    assert key.branch.startswith("rfc2543|tx-call@192.168.1.2|f1|1|")
    ack = ack_for(old, make_response(old, 486, to_tag="us"))
    assert server_key(ack) == key
    assert server_key(request("INVITE", branch="1234", cseq=2)) != key
    assert server_key(stamp_source(old, "203.0.113.9", 5060)) == key  # received/rport do not change it


def test_acks_have_no_transactions() -> None:
    invite = request("INVITE")
    ack = ack_for(invite, make_response(invite, 486, to_tag="us"))
    with pytest.raises(LocalProtocolError):
        ClientTransaction(ack, reliable=False)
    with pytest.raises(LocalProtocolError):
        ServerTransaction(ack, reliable=False)


def test_timer_fired_when_not_running() -> None:
    tx = ClientTransaction(request("MESSAGE"), reliable=True)
    tx.start(0.0)
    with pytest.raises(LocalProtocolError, match="timer E"):
        tx.timer_fired(Timer.E, 1.0)
    assert tx.state is State.TRYING  # the failed call changed nothing
    assert repr(tx).startswith("<ClientTransaction non-INVITE client trying")
