"""CPU seconds per process group during a benchmark phase, and optional py-spy profiles.

On a small box the API, the workers, the simulator and PostgreSQL share the cores: what one
of them saves is throughput for the others, so a dispatch run reports where the CPU went
(``/proc/<pid>/stat`` user + system time, PostgreSQL backends found by their database name
in the process title) beside the wall-clock figures.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process (0 when it is gone)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = raw[raw.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def postgres_backends(database: str) -> list[int]:
    """Pids of the PostgreSQL backends connected to ``database`` (by process title)."""
    needle = f" {database} ".encode()
    pids: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if title.startswith(b"postgres: ") and needle in title:
            pids.append(int(entry.name))
    return pids


def box_busy_seconds() -> float:
    """CPU seconds the whole box spent busy (all cores, every process) since boot."""
    first = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    ticks = [int(x) for x in first]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)
    return (sum(ticks) - idle) / _TICK


@dataclass
class CpuMeter:
    """CPU seconds per named group of processes between ``start`` and ``stop``."""

    groups: dict[str, list[int]]
    database: str | None = None
    _start: dict[int, float] = field(default_factory=dict)
    _box: float = 0.0
    used: dict[str, float] = field(default_factory=dict)

    def _pids(self) -> dict[str, list[int]]:
        groups = dict(self.groups)
        if self.database:
            groups["postgres"] = postgres_backends(self.database)
        return groups

    def start(self) -> None:
        """Take the first reading."""
        self._start = {p: cpu_seconds(p) for ps in self._pids().values() for p in ps}
        self._box = box_busy_seconds()

    def stop(self) -> dict[str, float]:
        """CPU seconds per group since ``start`` (``box`` is everything on the machine)."""
        used: dict[str, float] = {}
        for name, pids in self._pids().items():
            used[name] = sum(max(0.0, cpu_seconds(p) - self._start.get(p, 0.0)) for p in pids)
        used["box"] = box_busy_seconds() - self._box
        self.used = used
        return used


@dataclass
class Profiler:
    """``py-spy record`` (raw collapsed stacks, on-CPU samples only) on several processes."""

    out_dir: Path
    rate: int = 100
    _running: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, targets: dict[str, int]) -> None:
        """Start sampling each ``name: pid``."""
        exe = shutil.which("py-spy") or str(
            Path(__file__).resolve().parents[1] / ".venv/bin/py-spy"
        )
        self.out_dir.mkdir(parents=True, exist_ok=True)
        for name, pid in targets.items():
            cmd = [exe, "record", "-p", str(pid), "-r", str(self.rate), "-f", "raw"]
            cmd += ["--nonblocking", "--gil", "-o", str(self.out_dir / f"{name}.txt")]
            self._running.append(
                subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            )

    def stop(self) -> None:
        """Stop sampling and let py-spy write its files."""
        for p in self._running:
            p.send_signal(signal.SIGINT)
        for p in self._running:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
        self._running.clear()


def top_frames(path: Path, n: int = 25, contains: str = "") -> list[tuple[str, float]]:
    """The ``n`` functions with the most samples anywhere on the stack, as shares of all samples
    in a py-spy raw file (``contains`` keeps only frames whose text includes it)."""
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        k = int(count)
        total += k
        for frame in set(stack.split(";")):
            if contains in frame:
                inclusive[frame] += k
    return [(f, c / max(total, 1)) for f, c in inclusive.most_common(n)]
