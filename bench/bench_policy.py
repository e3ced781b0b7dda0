"""Benchmark of the authorisation decision for a unit holding 10,000 grants (issue 5).

1. build 10,000 grants for one grantee unit (camera grants of 1-5 cameras each, some unit- and division-scoped,
   a tenth revoked or expired, a fifth desensitised) plus grants of other units, and their :class:`GrantIndex`;
2. time :func:`decide` (LIVE, an operator of that unit) over random cameras: granted ones, ungranted ones, and
   the unit's own; print p50/p99 in microseconds;
3. the baseline, in the same run: a plain dict lookup of the same (unit, camera) key, the least any index costs;
   the ratio is our p99 / baseline p99.

Goal: p99 under 1 ms. Figures are printed, never asserted.

    python bench/bench_policy.py [--grants 10000] [--decisions 50000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import time

from xueliang.domain.grants import Grant, GrantStatus, ShareScope
from xueliang.domain.policy import CameraRef, GrantIndex, decide
from xueliang.domain.principals import Mode, Principal, PrincipalKind, Role

NOW = dt.datetime(2026, 12, 1, 8, 0)
OWNERS = [f"U{i:03d}" for i in range(200)]
COUNTIES = ("341502", "341503", "341504", "341522", "341523", "341524", "341525")


def camera(rng: random.Random, n: int) -> CameraRef:
    county = rng.choice(COUNTIES)
    return CameraRef(f"{county}0000132{n:07d}", rng.choice(OWNERS), county + f"{rng.randrange(1, 20):03d}")


def make_grants(rng: random.Random, count: int, unit: str, cameras: list[CameraRef]) -> list[Grant]:
    grants: list[Grant] = []
    for i in range(count):
        start = NOW - dt.timedelta(days=rng.randrange(0, 30))
        status = GrantStatus.ACTIVE if rng.random() > 0.1 else rng.choice([GrantStatus.REVOKED, GrantStatus.EXPIRED])
        modes = {Mode.LIVE, Mode.SNAPSHOT} | ({Mode.DESENSITISED} if rng.random() < 0.2 else set())
        kind = rng.random()
        if kind < 0.95:
            targets = frozenset(c.id for c in rng.sample(cameras, rng.randint(1, 5)))
            scope, owner = ShareScope.CAMERA, rng.choice(OWNERS)
        elif kind < 0.98:
            scope, owner, targets = ShareScope.UNIT, rng.choice(OWNERS), frozenset()
        else:
            scope, owner, targets = ShareScope.DIVISION, rng.choice(OWNERS), frozenset({rng.choice(COUNTIES)})
        grants.append(
            Grant(
                f"g{unit}{i:06d}",
                unit,
                owner,
                scope,
                targets,
                frozenset(modes),
                start,
                start + dt.timedelta(days=rng.randrange(1, 60)),
                status,
            )
        )
    return grants


def percentiles(samples: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return cuts[49] * 1e6, cuts[98] * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--grants", type=int, default=10_000)
    parser.add_argument("--decisions", type=int, default=50_000)
    args = parser.parse_args()
    rng = random.Random(5)
    cameras = [camera(rng, n) for n in range(60_000)]
    grants = make_grants(rng, args.grants, "JT", cameras)
    for other in ("CG", "YJ", "WL"):
        grants += make_grants(rng, args.grants // 4, other, cameras)
    started = time.perf_counter()
    index = GrantIndex(grants)
    built_ms = (time.perf_counter() - started) * 1e3
    principal = Principal(PrincipalKind.USER, "op", "op", "JT", frozenset({Role.OPERATOR}))
    probes = [rng.choice(cameras) for _ in range(args.decisions)]
    flat = {("JT", cam_id): True for g in grants if g.grantee_unit_code == "JT" for cam_id in g.targets}

    ours: list[float] = []
    allowed = 0
    for probe in probes:
        t0 = time.perf_counter()
        decision = decide(principal, Mode.LIVE, probe, NOW, index)
        ours.append(time.perf_counter() - t0)
        allowed += decision.allowed
    base: list[float] = []
    for probe in probes:
        t0 = time.perf_counter()
        flat.get(("JT", probe.id))
        base.append(time.perf_counter() - t0)

    p50, p99 = percentiles(ours)
    b50, b99 = percentiles(base)
    print(f"grants: {len(grants)} ({args.grants} for the unit), index built in {built_ms:.1f} ms")
    print(f"decisions: {len(probes)}, allowed {allowed}")
    print(f"decide:          p50 {p50:8.2f} us   p99 {p99:8.2f} us   (goal p99 < 1000 us)")
    print(f"baseline dict:   p50 {b50:8.2f} us   p99 {b99:8.2f} us")
    print(f"ratio (p99 ours / p99 baseline): {p99 / b99:.1f}")


if __name__ == "__main__":
    main()
