"""Timing shared by the benchmarks: what is compared takes turns."""
import statistics
import time
from typing import Callable, Dict


def interleaved_medians(jobs: Dict[str, Callable[[], object]],
                        repeat: int) -> Dict[str, float]:
    """Median seconds of each job, the jobs run in turns (A, B, A, B, ...)
    after one warm-up each, so that drift of the machine's speed affects
    them alike (timed one block after the other, it moved ratios by >10%
    on the 2-core development machine)."""
    for job in jobs.values():
        job()
    times = {name: [] for name in jobs}
    for _ in range(repeat):
        for name, job in jobs.items():
            start = time.perf_counter()
            job()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}
