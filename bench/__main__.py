"""`python -m bench [name ...] [--quick] [--json FILE]`: run the benchmarks and print their figures.

The stack is started once (only if a selected benchmark needs it) and torn down at the end, also
on Ctrl-C or SIGTERM. The benchmarks always run in the order below, whatever the order given:
the pure-code one first (nothing else running), then the stack's, the first sync (which pauses
the stack's sync and switches the simulators' deliveries off while it seeds its people) and the
inbound endpoints (which need neither) last. Each benchmark prints its
figures as a last line of JSON; `--json FILE` writes all of them to FILE, so runs can be compared.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime

from bench import burst, calls, faults, first_sync, inbound, latency, resolver
from bench.report import RESULTS
from bench.world import World, running_stack, sigterm_as_interrupt

StackBench = Callable[..., None]
STACK_BENCHMARKS: dict[str, StackBench] = {
    "latency": latency.run,
    "calls": calls.run,
    "burst": burst.run,
    "faults": faults.run,
    "first-sync": first_sync.run,
    "inbound": inbound.run,
}
NAMES = ["resolver", *STACK_BENCHMARKS]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "names", nargs="*", metavar="name", help=f"benchmarks to run: {', '.join(NAMES)} (all)"
    )
    parser.add_argument("--quick", action="store_true", help="smaller samples: a short run")
    parser.add_argument("--json", metavar="FILE", help="also write every benchmark's figures to FILE")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in NAMES]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(NAMES)}")
    chosen = [n for n in NAMES if n in args.names] if args.names else NAMES

    began = time.monotonic()
    print(
        f"sfgr-sync benchmarks{' (--quick)' if args.quick else ''}: {', '.join(chosen)}\n"
        f"  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, Python {platform.python_version()}, "
        f"{platform.machine()}, {_cores()} cores; one run on this machine, not a specification",
        flush=True,
    )
    failed: list[str] = []
    try:
        with sigterm_as_interrupt():
            if "resolver" in chosen:
                _guarded("resolver", lambda: resolver.run(quick=args.quick), failed)
            wanted = [n for n in chosen if n in STACK_BENCHMARKS]
            if wanted:
                print("\n  starting the stack...", flush=True)
                with running_stack() as stack:
                    world = World(stack)
                    try:
                        for name in wanted:
                            _guarded(
                                name, lambda n=name: STACK_BENCHMARKS[n](world, quick=args.quick), failed
                            )
                    finally:
                        world.close()
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    print(f"\ntotal {time.monotonic() - began:.0f} s", flush=True)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump({"quick": args.quick, "failed": failed, "figures": RESULTS}, out, indent=2)
        print(f"figures written to {args.json}", flush=True)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def _guarded(name: str, run: Callable[[], None], failed: list[str]) -> None:
    """A benchmark that breaks is reported and the others still run."""
    try:
        run()
    except Exception:
        failed.append(name)
        print(f"\n  {name} FAILED:", flush=True)
        traceback.print_exc()


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 0


if __name__ == "__main__":
    sys.exit(main())
