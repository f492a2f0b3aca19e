"""Run a benchmark against an earlier commit and against the working tree, side by side, in one run.

    python bench/compare.py --base REV [--rounds 2] -- workers.py --workers 1,2 --rounds 3

The earlier commit is checked out in a temporary git worktree; the benchmark
script named after ``--`` (from this tree's ``bench/``) runs with that tree, then
with this one, alternating for ``--rounds`` rounds, so that a slower moment of
the machine falls on both.  Each run's output is printed under its label; the
difference between the two trees' rounds next to each other is the change, the
difference between rounds of one tree is the run-to-run noise.  Worker
processes a benchmark starts inherit the tree through ``PYTHONPATH``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def run(tree: Path, script: list[str]) -> str:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    command = [sys.executable, str(HERE / script[0]), *script[1:]]
    done = subprocess.run(command, cwd=HERE, env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        return f"(exit {done.returncode})\n{done.stdout}{done.stderr[-2000:]}"
    return done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", required=True, help="the commit to compare against")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("script", nargs=argparse.REMAINDER, help="-- SCRIPT [ARGS...] from bench/")
    args = parser.parse_args()
    script = args.script[1:] if args.script[:1] == ["--"] else args.script
    if not script:
        raise SystemExit("name the benchmark after --, for example: -- latency.py")
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", str(base), args.base], check=True)
        try:
            for n in range(1, args.rounds + 1):
                for label, tree in ((f"base {args.base}", base), ("this tree", ROOT)):
                    print(f"=== round {n}, {label}: {' '.join(script)}", flush=True)
                    print(run(tree, script), flush=True)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)], check=False)


if __name__ == "__main__":
    main()
