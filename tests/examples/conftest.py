"""The example receiver served for real on loopback, with hooks of the addon pointing at it."""

from __future__ import annotations

import importlib.util
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parents[2]
KEY, VALUE = "X-Api-Key", "s3cret"


@pytest.fixture(scope="session")
def example() -> ModuleType:
    """examples/receiver.py, loaded as an integrator would copy it (it is not a package)."""
    spec = importlib.util.spec_from_file_location("example_receiver", ROOT / "examples" / "receiver.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # as an import would: dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def serve() -> Iterator[Callable[[Any], str]]:
    """``serve(app)`` runs a WSGI app on a free loopback port until the test ends; returns its base URL."""
    running = []

    def start(app: Any) -> str:
        server = make_server("127.0.0.1", 0, app, threaded=True)
        # A short poll: shutdown() waits for it, once per test.
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        running.append((server, thread))
        return f"http://127.0.0.1:{server.server_port}"

    yield start
    for server, thread in running:
        server.shutdown()
        thread.join()
        server.server_close()


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "processed.db"


@pytest.fixture
def served(webhooks, example, serve, store) -> SimpleNamespace:
    """The receiver serving two hooks, each with its own secret: /leads (with a key/value header) and /clients."""
    hooks = {
        "leads": webhooks.create_hook(
            name="leads", event="lead.created", url="http://127.0.0.1:1/x", key=KEY, value=VALUE
        ),
        "clients": webhooks.create_hook(name="clients", event="lead.created", url="http://127.0.0.1:1/x"),
    }
    config = {
        name: example.HookConfig(hook.secret, KEY if hook.key else None, VALUE if hook.key else None)
        for name, hook in hooks.items()
    }
    worked: list[tuple[str, str]] = []
    app = example.create_app(config, store, work=lambda hook, envelope: worked.append((hook, envelope["id"])))
    base = serve(app)
    # A hook with a key/value header moves to a new URL only with its value given again.
    hooks = {
        name: webhooks.update_hook(hook.id, url=f"{base}/{name}", **({"value": VALUE} if hook.key else {}))
        for name, hook in hooks.items()
    }
    return SimpleNamespace(base=base, app=app, hooks=hooks, config=config, worked=worked)
