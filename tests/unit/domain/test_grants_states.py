"""The state tables of grants, share requests and approval steps: walked whole, every other move refused."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from enum import StrEnum
from typing import Any

import pytest

from xueliang.domain import grants as g
from xueliang.domain.principals import Mode

MACHINES: list[tuple[str, type[StrEnum], type[StrEnum], Callable[[Any, Any], Any]]] = [
    ("grant", g.GrantStatus, g.GrantEvent, g.grant_transition),
    ("share_request", g.RequestStatus, g.RequestEvent, g.request_transition),
    ("approval_step", g.StepStatus, g.StepEvent, g.step_transition),
]


@pytest.mark.parametrize(("machine", "states", "events", "move"), MACHINES, ids=[m[0] for m in MACHINES])
def test_every_pair_either_follows_the_table_or_raises(
    machine: str, states: type[StrEnum], events: type[StrEnum], move: Callable[[Any, Any], Any]
) -> None:
    table = g.TABLES[machine]
    for state, event in itertools.product(states, events):
        if (state, event) in table:
            assert move(state, event) == table[(state, event)]
        else:
            with pytest.raises(g.IllegalTransitionError) as caught:
                move(state, event)
            assert caught.value.machine == machine and caught.value.state == state.value


@pytest.mark.parametrize(("machine", "states", "events", "move"), MACHINES, ids=[m[0] for m in MACHINES])
def test_every_state_is_reachable_from_the_start(
    machine: str, states: type[StrEnum], events: type[StrEnum], move: Callable[[Any, Any], Any]
) -> None:
    start = {"grant": g.GrantStatus.ACTIVE, "share_request": g.RequestStatus.PENDING}.get(machine, g.StepStatus.WAITING)
    seen, frontier = {start}, [start]
    while frontier:
        state = frontier.pop()
        for event in events:
            try:
                target = move(state, event)
            except g.IllegalTransitionError:
                continue
            if target not in seen:
                seen.add(target)
                frontier.append(target)
    assert seen == set(states)


def test_terminal_states() -> None:
    terminal = {s for s in g.RequestStatus if not any(k[0] is s for k in g.REQUEST_TRANSITIONS)}
    assert terminal == {g.RequestStatus.APPROVED, g.RequestStatus.REJECTED, g.RequestStatus.WITHDRAWN}
    # a revoked grant never comes back, an expired one can be renewed
    assert not any(k[0] is g.GrantStatus.REVOKED for k in g.GRANT_TRANSITIONS)
    assert g.grant_transition(g.GrantStatus.EXPIRED, g.GrantEvent.RENEW) is g.GrantStatus.ACTIVE
    step_terminal = {s for s in g.StepStatus if not any(k[0] is s for k in g.STEP_TRANSITIONS)}
    assert step_terminal == {g.StepStatus.APPROVED, g.StepStatus.REJECTED, g.StepStatus.SKIPPED}


NOW = dt.datetime(2026, 12, 1, 8, 0)


def test_grant_rejects_inconsistent_shapes() -> None:
    def make(**kw: Any) -> g.Grant:
        base: dict[str, Any] = {
            "id": "x",
            "grantee_unit_code": "JT",
            "owner_unit_code": "GA",
            "scope": g.ShareScope.CAMERA,
            "targets": frozenset({"c1"}),
            "modes": frozenset({Mode.LIVE}),
            "valid_from": NOW,
            "valid_until": NOW + dt.timedelta(days=1),
        }
        base.update(kw)
        return g.Grant(**base)

    assert make().valid_at(NOW) and not make().valid_at(NOW + dt.timedelta(days=1))
    bad_shapes: list[dict[str, Any]] = [
        {"modes": frozenset()},
        {"valid_until": NOW},
        {"scope": g.ShareScope.UNIT},  # with targets
        {"scope": g.ShareScope.CAMERA, "targets": frozenset()},
        {"owner_unit_code": None},  # only division grants span owners
    ]
    for bad in bad_shapes:
        with pytest.raises(g.GrantsDomainError):
            make(**bad)
    assert make(scope=g.ShareScope.DIVISION, targets=frozenset({"3415"}), owner_unit_code=None).owner_unit_code is None


def test_chains_start_with_the_owner_and_pick_by_sensitivity() -> None:
    chains = g.ApprovalChains()
    assert chains.for_level(g.Sensitivity.NORMAL) == (g.StepKind.OWNER, g.StepKind.BUREAU)
    assert g.highest([g.Sensitivity.LOW, g.Sensitivity.HIGH]) is g.Sensitivity.HIGH
    assert g.highest([]) is g.Sensitivity.NORMAL
    with pytest.raises(g.GrantsDomainError):
        g.ApprovalChains(low=(g.StepKind.BUREAU,))
    with pytest.raises(g.GrantsDomainError):
        g.ApprovalChains(high=(g.StepKind.OWNER, g.StepKind.OWNER))


def test_areas() -> None:
    box = g.Area.bbox(116.0, 31.0, 117.0, 32.0)
    assert box.contains(116.5, 31.5) and not box.contains(117.5, 31.5)
    triangle = g.Area.polygon([(0.0, 0.0), (10.0, 0.0), (0.0, 10.0), (0.0, 0.0)])
    assert triangle.contains(1.0, 1.0) and not triangle.contains(9.0, 9.0)
    assert len(triangle.points) == 3  # the closing point is dropped
    with pytest.raises(g.InvalidAreaError):
        g.Area.bbox(117.0, 31.0, 116.0, 32.0)
    with pytest.raises(g.InvalidAreaError):
        g.Area.polygon([(0.0, 0.0), (1.0, 1.0)])
    with pytest.raises(g.InvalidAreaError):
        g.Area.polygon([(0.0, 0.0), (1.0, 1.0), (200.0, 0.0)])
