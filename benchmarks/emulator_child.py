"""An emulator served on loopback in a child process, for the benchmarks (the measured process holds only the app).

    child = EmulatorChild("enginy_desktop.sandbox.ai.openai", "OpenAISandbox", "OpenAISandboxConfig", {"rpm": 600})
    child.url            # http://127.0.0.1:PORT
    child.state()        # the counts of its control API (/__sandbox__/state)
    child.close()
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

CONTROL = "benchmark-control-token"  # the emulator's control API token (a made-up value)


class EmulatorChild:
    def __init__(self, module: str, sandbox: str, config_class: str, config: dict[str, Any]) -> None:
        spec = json.dumps({"module": module, "sandbox": sandbox, "config_class": config_class,
                           "config": {**config, "control_token": CONTROL}})
        self.proc = subprocess.Popen([sys.executable, __file__, spec], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True)
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()

    def state(self) -> dict[str, Any]:
        import httpx

        answer = httpx.get(self.url + "/__sandbox__/state", headers={"Authorization": f"Bearer {CONTROL}"})
        return dict(answer.json()["counts"])

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(10)


def _serve(spec: dict[str, Any]) -> None:
    """Child process: the emulator on a free loopback port; prints its URL, serves until stdin closes."""
    from enginy_desktop.sandbox.server import serve

    module = importlib.import_module(spec["module"])
    sandbox = getattr(module, spec["sandbox"])(getattr(module, spec["config_class"])(**spec["config"]))
    with serve(sandbox.app) as url:
        print(url, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    _serve(json.loads(sys.argv[1]))
