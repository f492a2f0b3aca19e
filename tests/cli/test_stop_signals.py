"""How the worker hears SIGTERM and SIGINT: every signal kept, none able to hang it.

Each story runs in a process of its own: a signal that went wrong here would stop pytest.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

PRELUDE = """\
import os, signal, threading, time
from crm_webhooks.stop_signals import StopSignals
me = os.getpid()
"""

STORIES = {
    # A signal that comes before anybody waits is kept for the next wait.
    "early_signal_kept": """
        with StopSignals() as signals:
            os.kill(me, signal.SIGTERM)
            time.sleep(0.05)
            print(signals.wait(5).name)
    """,
    "nothing_came": """
        with StopSignals() as signals:
            started = time.monotonic()
            print(signals.wait(0.2), time.monotonic() - started >= 0.19)
    """,
    # Both of two signals read at once are returned, one per wait: the second one is what
    # makes a stopping worker leave at once.
    "two_signals_two_waits": """
        with StopSignals() as signals:
            os.kill(me, signal.SIGINT)
            os.kill(me, signal.SIGTERM)
            time.sleep(0.05)
            print(signals.wait(5).name, signals.wait(5).name, signals.wait(0))
    """,
    # Another signal with a handler of its own wakes the socket too; it is not a stop.
    "other_signals_skipped": """
        seen = []
        signal.signal(signal.SIGUSR1, lambda *_: seen.append(1))
        with StopSignals() as signals:
            os.kill(me, signal.SIGUSR1)
            time.sleep(0.05)
            print(signals.wait(0.1), len(seen))
    """,
    # Signals raining on a thread that waits again and again: an Event.set() in a handler
    # deadlocks here within seconds (the signal lands while Event.wait holds its lock).
    "a_storm_of_signals_never_hangs": """
        with StopSignals() as signals:
            def storm():
                for _ in range(20000):
                    os.kill(me, signal.SIGTERM)
            shooter = threading.Thread(target=storm)
            shooter.start()
            heard = 0
            while shooter.is_alive():
                heard += signals.wait(0.001) is not None
            shooter.join()
            time.sleep(0.2)  # signals sent to a process reach one of its threads a moment later
            while signals.wait(0) is not None:
                pass
            print("done", heard > 0)
    """,
    # Leaving the block puts back what was there: SIGINT is KeyboardInterrupt again.
    "handlers_restored": """
        before = signal.getsignal(signal.SIGINT)
        with StopSignals():
            pass
        print(signal.getsignal(signal.SIGINT) is before, signal.set_wakeup_fd(-1))
    """,
}

EXPECTED = {
    "early_signal_kept": "SIGTERM",
    "nothing_came": "None True",
    "two_signals_two_waits": "SIGINT SIGTERM None",
    "other_signals_skipped": "None 1",
    "a_storm_of_signals_never_hangs": "done True",
    "handlers_restored": "True -1",
}


@pytest.mark.parametrize("story", list(STORIES))
def test_stop_signals(story: str) -> None:
    script = PRELUDE + textwrap.dedent(STORIES[story])
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == EXPECTED[story]
