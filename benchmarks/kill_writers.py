"""Torture the results store: ``kill -9`` writers at random moments, and race two writers.

    python benchmarks/kill_writers.py --kills 22 --races 5 --dir /tmp/kill_writers

Each kill round starts ``channelsim run … --out DIR/w --force`` (a tiny scenario) and kills its
whole process group with SIGKILL at a random moment while it writes (within 50 ms of its
temporary directory appearing; ``--window LOW:HIGH`` kills at a random fraction of a run's time
instead); the
next round's command is the next writer, which must recover what the killed one left. Printed:
what the kills left behind (temporary directories, old-aside copies, a missing ``w``, stale lock
files), whether every next writer succeeded, and what is left at the end (nothing, and ``w``
complete). Each race round starts two writers of one fresh ``--out`` at once: one must write it
(exit 0) and the other be refused (exit 2, "being written by another process" or "already
exists"), never a traceback. The last lines are ``key: value`` pairs.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--set", "market.customers=1000", "--set", "horizon.days=20", "--set", "targets=[]"]


def _command(out: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "sim.commands.cli",
        "run",
        str(ROOT / "scenarios" / "baseline.yaml"),
        "-r",
        "2",
        "--workers",
        "1",
        "--out",
        str(out),
        *TINY,
        *extra,
    ]


def _state(out: Path) -> dict:
    from sim.results import leftovers, lock_path

    temps, olds = leftovers(out)
    complete = (out / "manifest.json").is_file() and (out / "summary.json").is_file()
    return {
        "temps": len(temps),
        "olds": len(olds),
        "missing": not out.exists(),
        "complete": complete,
        "lock": lock_path(out).exists(),
    }


def _wait_for_temp(out: Path, proc: subprocess.Popen) -> None:
    from sim.results import leftovers

    while proc.poll() is None and not leftovers(out)[0]:
        time.sleep(0.002)


def kill_rounds(
    base: Path, kills: int, rng: random.Random, window: tuple[float, float] | None
) -> dict:
    out = base / "w"
    start = time.monotonic()
    first = subprocess.run(_command(out), capture_output=True, text=True, cwd=ROOT)
    assert first.returncode == 0, first.stderr
    duration = time.monotonic() - start
    totals = {"temps": 0, "olds": 0, "missing": 0, "lock": 0, "next_failed": 0}
    for _ in range(kills):
        proc = subprocess.Popen(
            _command(out, "--force"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=ROOT,
            start_new_session=True,
        )
        if window is None:  # kill while it writes: once its temporary directory appears
            _wait_for_temp(out, proc)
            time.sleep(rng.uniform(0, 0.05))
        else:
            time.sleep(rng.uniform(*window) * duration)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        err = proc.communicate()[1].decode()
        if proc.returncode not in (0, -signal.SIGKILL) or "Traceback" in err:
            totals["next_failed"] += 1  # the writer after a killed one could not proceed
        s = _state(out)
        for key in ("temps", "olds", "lock"):
            totals[key] += s[key] > 0
        totals["missing"] += s["missing"]
    last = subprocess.run(_command(out, "--force"), capture_output=True, text=True, cwd=ROOT)
    totals["final_exit"] = last.returncode
    final = _state(out)
    totals["final_complete"] = final["complete"]
    totals["final_leftovers"] = final["temps"] + final["olds"] + final["lock"]
    totals["recorded_replications"] = json.loads((out / "manifest.json").read_text())[
        "replications"
    ]
    return totals


def race_rounds(base: Path, races: int) -> dict:
    counts = {"won": 0, "refused_cleanly": 0, "other": 0}
    for i in range(races):
        out = base / f"race-{i}"
        procs = [
            subprocess.Popen(_command(out), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            for _ in range(2)
        ]
        for p in procs:
            err = p.communicate()[1].decode()
            clean = "being written by another process" in err or "already exists" in err
            if p.returncode == 0:
                counts["won"] += 1
            elif p.returncode == 2 and clean and "Traceback" not in err:
                counts["refused_cleanly"] += 1
            else:
                counts["other"] += 1
    return counts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kills", type=int, default=22)
    ap.add_argument("--races", type=int, default=5)
    ap.add_argument("--dir", default="/tmp/kill_writers")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--window",
        default="write",
        help="when to kill: 'write' (default: within 50 ms of the temporary directory "
        "appearing) or LOW:HIGH, a uniform fraction of a full run's time (e.g. 0:1.1)",
    )
    args = ap.parse_args()
    base = Path(args.dir)
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    window = None if args.window == "write" else tuple(float(x) for x in args.window.split(":"))
    killed = kill_rounds(base, args.kills, random.Random(args.seed), window)
    raced = race_rounds(base, args.races)
    for key, value in {**killed, **raced}.items():
        print(f"{key}: {int(value)}")


if __name__ == "__main__":
    main()
