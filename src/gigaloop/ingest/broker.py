"""A Mosquitto broker of one's own, with the shipped settings: for tests, benchmarks, trials.

It runs ``mosquitto -c mosquitto.conf -p PORT`` in its own folder (where the broker keeps
``mosquitto.db``) on a free loopback port, and can be stopped, restarted and killed. Run
as root, the config gets ``user root`` added: mosquitto would otherwise switch to its own
user, who cannot write the folder, and lose its queues on a restart.

    with Mosquitto(tmp_path) as broker:
        connector = MqttConnector(store, port=broker.port)
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import IO, Any

from gigaloop.errors import ConfigError

#: The broker settings gigaloop relies on (docs/connectors.md explains each).
CONFIG = Path(__file__).with_name("mosquitto.conf")


def free_port() -> int:
    """A TCP port nobody listens on at the moment (on 127.0.0.1)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Mosquitto:
    """A ``mosquitto`` process on ``port`` (a free one by default), run in ``folder``."""

    def __init__(self, folder: Path | str, port: int | None = None, *,
                 config: Path | str = CONFIG, binary: str = "mosquitto") -> None:
        self.folder = Path(folder)
        self.port = port or free_port()
        self.config = Path(config)
        found = shutil.which(binary)
        if found is None:
            raise ConfigError(f"{binary} is not installed: install Mosquitto 2 "
                              "(apt-get install mosquitto)", binary=binary)
        self.binary = found
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self, timeout_s: float = 10.0) -> Mosquitto:
        """Start the broker and wait until it accepts connections."""
        self.folder.mkdir(parents=True, exist_ok=True)
        config = self.config.resolve()
        if os.geteuid() == 0:  # mosquitto would drop to its own user, who cannot save here
            config = self.folder / "mosquitto-as-root.conf"
            config.write_text(self.config.read_text() + "\nuser root\n")
        self._log = open(self.folder / "mosquitto.log", "ab")  # noqa: SIM115 (kept open)
        self._process = subprocess.Popen(
            [self.binary, "-c", str(config), "-p", str(self.port)],
            cwd=self.folder, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise ConfigError(f"mosquitto exited with {self._process.returncode}; see "
                                  f"{self.folder / 'mosquitto.log'}", port=self.port)
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.02)
        self.kill()
        raise ConfigError(f"mosquitto did not listen on {self.port} within {timeout_s} s",
                          port=self.port)

    def stop(self, timeout_s: float = 10.0) -> None:
        """Shut down cleanly (SIGTERM): queued messages are saved to ``mosquitto.db``."""
        self._end(signal.SIGTERM, timeout_s)

    def kill(self) -> None:
        """Crash the broker (SIGKILL): what it had not saved is lost."""
        self._end(signal.SIGKILL, 5.0)

    def restart(self) -> Mosquitto:
        """Stop cleanly and start again on the same port and folder."""
        self.stop()
        return self.start()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _end(self, how: signal.Signals, timeout_s: float) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(how)
            try:
                self._process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Mosquitto:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
