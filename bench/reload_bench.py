"""Switch the serving model back and forth under load; show that no decision request fails.

    python bench/reload_bench.py --url http://127.0.0.1:8012 --registry /tmp/rb/registry
    python bench/reload_bench.py --url http://127.0.0.1:8012 --registry /tmp/rb/registry \\
        --seconds 30 --concurrency 8 --switches 6 --placement app_offers

The registry must be the one the server reads (its WAYFINDER_REGISTRY) and must hold at least
two versions; make a second one without making it current with

    python -m training --registry DIR train --events EVENTS --no-promote

While --concurrency client threads POST /v1/decisions without pause (one keep-alive connection
each, as bench/api_bench.py does), the main thread switches CURRENT --switches times, evenly
spread over --seconds: promote the other version, roll back, promote, roll back, ... Switching
is done in this process with the registry's own primitives, `Registry.promote(version)` (the
atomic rename of CURRENT that `python -m training promote` ends with, without its off-policy
gate, which would refuse or need --force) and `Registry.rollback()` (exactly what `python -m
training rollback` does). Each switch appends a line to the registry's history.jsonl; if the
run ends on the other version, CURRENT is set back to the version that was current before.
Point it at a scratch registry, not a production one: it promotes without the gate.

The server's workers notice a new CURRENT within WAYFINDER_RELOAD_INTERVAL_S (2 s by default),
each on its own; keep --seconds / (--switches + 1) above it, or a worker may skip a switch.

Prints requests, failures (by HTTP status or exception), answers per model_version, version
changes the clients saw, how long after each switch responses carried the new version, and
latency percentiles. Exit status: 0 when no request failed, 1 when one did, 2 when the setup
is wrong (no server, a registry with one version, an unknown placement).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import sys
import threading
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from models.registry import Registry  # noqa: E402

DEFAULT_RELOAD_INTERVAL_S = 2.0  # WAYFINDER_RELOAD_INTERVAL_S's default (config/settings.py)

HEADERS = {"Content-Type": "application/json", "Authorization": "Bearer " + os.environ.get("WF_ADMIN_KEY", "")}
"""The admin key: `source var/keys/demo-keys.env` (or export WF_ADMIN_KEY) before running; serve with
WAYFINDER_RATE_LIMITS=off so the bench measures the service, not its limits."""


class SetupError(Exception):
    """The server, registry or placement is not ready for this bench (exit status 2)."""


class Client(threading.Thread):
    """One keep-alive connection posting decisions until `deadline`; keeps every outcome."""

    def __init__(self, url: str, placement: str, visitors: int, seed: int, deadline: float):
        super().__init__(daemon=True)
        parsed = urllib.parse.urlparse(url)
        self.host, self.port = parsed.hostname, parsed.port or 80
        self.placement, self.visitors, self.deadline = placement, visitors, deadline
        self.rng = random.Random(seed)
        # (sent, received, status or exception name, model_version, policy); monotonic seconds
        self.records: list[tuple[float, float, int | str, str | None, str | None]] = []

    def body(self) -> str:
        return json.dumps(
            {
                "visitor_id": f"reload-{self.rng.randrange(self.visitors)}",
                "placement": self.placement,
                "context": {"channel": self.rng.choice(["web", "app"])},
            }
        )

    def run(self) -> None:
        conn = None
        while time.monotonic() < self.deadline:
            if conn is None:
                conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
            payload = self.body()
            sent = time.monotonic()
            try:
                conn.request("POST", "/v1/decisions", payload, HEADERS)
                response = conn.getresponse()
                raw = response.read()
            except (OSError, http.client.HTTPException) as error:
                self.records.append((sent, time.monotonic(), type(error).__name__, None, None))
                conn.close()
                conn = None
                continue
            received = time.monotonic()
            version = policy = None
            if 200 <= response.status < 300:
                try:
                    answer = json.loads(raw)
                    version, policy = answer.get("model_version"), answer.get("policy")
                except ValueError:
                    self.records.append((sent, received, "bad JSON", None, None))
                    continue
            self.records.append((sent, received, response.status, version, policy))
        if conn is not None:
            conn.close()


def get_json(url: str, path: str) -> tuple[int, dict]:
    parsed = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port or 80, timeout=10)
    try:
        conn.request("GET", path, headers=HEADERS)
        response = conn.getresponse()
        raw = response.read()
    finally:
        conn.close()
    try:
        return response.status, json.loads(raw)
    except ValueError:
        return response.status, {}


def preflight(args, registry: Registry) -> tuple[str, str]:
    """(the current version, the one to switch to), or exit 2 saying what is missing."""
    versions = registry.versions()
    current = registry.current()
    if len(versions) < 2:
        raise SetupError(
            f"{args.registry} holds {len(versions)} model version(s); this bench switches between two.\n"
            f"Register a second one without making it current:\n"
            f"  .venv/bin/python -m training --registry {args.registry} train --events EVENTS --no-promote"
        )
    if current is None:
        raise SetupError(f"{args.registry} has no CURRENT version: promote one first")
    other = args.other or [v for v in versions if v != current][-1]
    if other == current or other not in versions:
        raise SetupError(f"--other {other} must be a version in {args.registry} other than {current}")
    try:
        status, ready = get_json(args.url, "/readyz")
    except OSError as error:
        raise SetupError(f"no server at {args.url}: {error}") from error
    serving = (ready.get("checks") or {}).get("model")
    if status != 200:
        raise SetupError(f"{args.url}/readyz answers {status}: {json.dumps(ready)}")
    if serving not in versions:
        raise SetupError(
            f"{args.url} serves model {serving}, which is not in {args.registry}: "
            f"start the server with WAYFINDER_REGISTRY={args.registry}"
        )
    status, placement = get_json(args.url, f"/v1/placements/{args.placement}")
    if status != 200:
        raise SetupError(f"placement {args.placement!r}: {status} {json.dumps(placement)}")
    if placement.get("holdout_share") or placement.get("caps"):
        print(f"note: {args.placement} has a holdout or caps; those answers carry model_version null")
    return current, other


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--registry", required=True, help="the registry directory the server reads")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--switches", type=int, default=10)
    parser.add_argument("--placement", default="next_step_panel", help="default: no holdout, no caps")
    parser.add_argument("--visitors", type=int, default=1000)
    parser.add_argument("--other", help="the version to switch to (default: the newest one not current)")
    args = parser.parse_args()

    registry = Registry(args.registry)
    try:
        original, other = preflight(args, registry)
    except SetupError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    gap = args.seconds / (args.switches + 1)
    print(
        f"target {args.url}, {args.concurrency} client(s), {args.seconds:g} s, placement {args.placement}; "
        f"{args.switches} switches between {original} (current) and {other}, one every {gap:.2f} s"
    )

    if gap < DEFAULT_RELOAD_INTERVAL_S:
        print(
            f"note: a switch every {gap:.2f} s is sooner than the workers' default reload interval "
            f"({DEFAULT_RELOAD_INTERVAL_S:g} s): a worker may skip a switch (fewer switches, or more --seconds)"
        )

    started = time.monotonic()
    deadline = started + args.seconds
    clients = [Client(args.url, args.placement, args.visitors, seed, deadline) for seed in range(args.concurrency)]
    for client in clients:
        client.start()
    switches: list[tuple[float, str]] = []  # (when CURRENT was replaced, the version it names)
    for k in range(1, args.switches + 1):
        time.sleep(max(0.0, started + k * gap - time.monotonic()))
        at = time.monotonic()
        if k % 2:
            registry.promote(other, reason="reload_bench")
            target = other
        else:
            target = registry.rollback()
            if target != original:
                print(f"warning: rollback went to {target}, not {original}", file=sys.stderr)
        switches.append((at, target))
    for client in clients:
        client.join()
    elapsed = time.monotonic() - started
    if registry.current() != original:
        registry.promote(original, reason="reload_bench: restore")
        print(f"restored CURRENT to {original}")

    report(clients, switches, started, elapsed, deadline)
    failed = sum(1 for client in clients for r in client.records if not (isinstance(r[2], int) and r[2] < 300))
    return 1 if failed else 0


def report(
    clients: list[Client], switches: list[tuple[float, str]], started: float, elapsed: float, deadline: float
) -> None:
    records = [r for client in clients for r in client.records]
    failures: dict[str, int] = {}
    per_version: dict[str, int] = {}
    per_policy: dict[str, int] = {}
    latencies = []
    for sent, received, status, version, policy in records:
        if isinstance(status, int) and status < 300:
            latencies.append(received - sent)
            per_version[str(version)] = per_version.get(str(version), 0) + 1
            per_policy[str(policy)] = per_policy.get(str(policy), 0) + 1
        else:
            failures[str(status)] = failures.get(str(status), 0) + 1

    changes, early, change_latencies = 0, 0, []
    first_switch = switches[0][0] if switches else deadline
    for client in clients:
        last = None
        for sent, received, _, version, _ in client.records:
            if version is None:
                continue
            if last is not None and version != last:
                changes += 1
                early += sent < first_switch
                change_latencies.append(received - sent)
            last = version

    # Per switch and client: the first response to a request sent in the switch's window (from the
    # switch to the next one, or to the end) that carries the new version; none in it: missed.
    first_seen, all_seen, missed, lines = [], [], 0, []
    bounds = [at for at, _ in switches[1:]] + [deadline]
    for k, ((at, target), until) in enumerate(zip(switches, bounds), 1):
        delays, answers, new = [], 0, 0
        for client in clients:
            window = [r for r in client.records if at <= r[0] < until and r[3] is not None]
            answers += len(window)
            new += sum(1 for r in window if r[3] == target)
            hit = next((r[1] - at for r in window if r[3] == target), None)
            if hit is None:
                missed += 1 if window else 0
            else:
                delays.append(hit)
        if delays:
            first_seen.append(min(delays))
        if delays and len(delays) == len(clients):
            all_seen.append(max(delays))
        seen = f"first {ms(min(delays))}, all {ms(max(delays))}" if delays else "not seen"
        lines.append(
            f"  switch {k:>2} at {at - started:5.2f} s to {target}: {seen}; "
            f"{new:,} of {answers:,} answers in its window carried it, {len(delays)}/{len(clients)} clients"
        )

    total = len(records)
    print(f"requests {total:,} in {elapsed:.1f} s ({total / elapsed:.0f}/s), failed {sum(failures.values())}")
    if failures:
        print(f"  failures by status: {json.dumps(failures)}")
    print(f"answers per model_version: {json.dumps(per_version)}")
    print(f"answers per policy: {json.dumps(per_policy)}")
    print(
        f"switches {len(switches)}; version changes seen by the clients {changes} "
        f"(each client sees each switch once: {len(switches) * len(clients)} at most)"
    )
    if early:
        print(f"  {early} of them before the first switch: a worker still held the model it served last")
    if first_seen:
        print(
            f"switch -> first response with the new version: p50 {ms(percentile(first_seen, 0.5))}, "
            f"max {ms(max(first_seen))} ({len(first_seen)} of {len(switches)} switches seen)"
        )
    if all_seen:
        print(
            f"switch -> every client on the new version: p50 {ms(percentile(all_seen, 0.5))}, "
            f"max {ms(max(all_seen))} ({len(all_seen)} of {len(switches)} switches)"
        )
    if missed:
        print(f"  {missed} (switch, client) pair(s) got no answer with the new version in the switch's window")
    print("\n".join(lines))
    if latencies:
        print(
            f"latency p50 {ms(percentile(latencies, 0.5))}, p95 {ms(percentile(latencies, 0.95))}, "
            f"p99 {ms(percentile(latencies, 0.99))}, max {ms(max(latencies))}"
        )
    if change_latencies:
        print(
            f"latency of the first answer with a new version, per client: p50 {ms(percentile(change_latencies, 0.5))}, "
            f"max {ms(max(change_latencies))}"
        )


if __name__ == "__main__":
    sys.exit(main())
