"""A benchmark process's memory, from ``/proc/self/status``.

Peak RSS is ``VmHWM``, not ``ru_maxrss``: on Linux ``ru_maxrss`` keeps the high-water mark of
the process before ``exec``, i.e. of the parent at fork time (an emulator holding a whole sample
company), which every side would then report as its own.
"""

from __future__ import annotations

import resource


def status_mb(field: str) -> float:
    """``VmHWM`` / ``VmRSS`` … of this process, in MB (0 when unavailable)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


def peak_rss_mb() -> float:
    """This process's peak RSS (``VmHWM``; ``ru_maxrss`` where there is no ``/proc``)."""
    return status_mb("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
