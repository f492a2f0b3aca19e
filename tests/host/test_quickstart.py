"""The README's first command must keep working."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quickstart_runs_the_sales_cycle() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "quickstart.py")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "11 events; sale 1 of 1500.00 closed opportunity 1" in done.stdout
    assert "sale.created" in done.stdout and "client.created" in done.stdout
