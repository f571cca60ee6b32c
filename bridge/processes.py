"""Child processes of ours (`bridge serve` starts a worker; `bridge worker --processes N` more
workers): started with our own interpreter, stopped with their parent."""

from __future__ import annotations

import ctypes
import signal
import subprocess
import sys

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def spawn(*args: str) -> subprocess.Popen[bytes]:
    """Run ``bridge <args>`` as a child that the kernel stops if this process dies (Linux)."""
    command = [sys.executable, "-c", "from bridge.cli import main; main()", *args]
    return subprocess.Popen(command, preexec_fn=_die_with_parent)  # noqa: S603, PLW1509 - our own interpreter; the hook only calls prctl


def _die_with_parent() -> None:
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:  # not Linux: the parent's own stop still stops the child
        pass


def stop(child: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """Ask a worker to finish its running attempts (SIGTERM), then insist."""
    if child.poll() is not None:
        return
    child.send_signal(signal.SIGTERM)
    try:
        child.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
