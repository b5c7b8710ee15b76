"""bench.fleet puts this folder on the worker's PYTHONPATH, so every Python process the worker
starts loads it (the launcher, the engine it may become, the preloaded process of `hgsync worker`).
At exit, a process that is a flow run's (PREFECT__FLOW_RUN_ID set by then: a child forked by the
preloaded process gets the run's environment after it starts) writes its own CPU seconds (user +
system, since it started or was forked), its peak RSS (VmHWM), and its PSS and private (USS) memory
at exit from /proc/self/smaps_rollup (a forked run shares the preloaded process's pages: its RSS
counts them whole, PSS divides them among the processes sharing them, USS leaves them out) to
$HGSYNC_FLEET_PROBE_DIR/<flow run id>-<pid>.json. Standard library only."""

import os

if os.environ.get("HGSYNC_FLEET_PROBE_DIR"):
    import atexit
    import json
    import resource
    import sys
    import time

    _STARTED = time.time()
    _PROFILE = None

    def _start_profile() -> None:  # where a run's CPU goes (HGSYNC_FLEET_PROFILE=1)
        global _PROFILE, _STARTED
        _STARTED = time.time()
        if os.environ.get("HGSYNC_FLEET_PROFILE"):
            import cProfile

            _PROFILE = cProfile.Profile()
            _PROFILE.enable()

    if os.environ.get("PREFECT__FLOW_RUN_ID"):
        _start_profile()
    os.register_at_fork(after_in_child=_start_profile)

    def _kb(path: str, keys: tuple[str, ...]) -> int:
        total = 0
        try:
            with open(path) as status:
                for line in status:
                    if line.split(":")[0] in keys:
                        total += int(line.split()[1])
        except OSError:
            pass
        return total

    def _write() -> None:
        if not os.environ.get("PREFECT__FLOW_RUN_ID"):
            return
        if _PROFILE is not None:
            _PROFILE.disable()
            _PROFILE.dump_stats(
                os.path.join(os.environ["HGSYNC_FLEET_PROBE_DIR"], f"{os.getpid()}.prof")
            )
        usage = resource.getrusage(resource.RUSAGE_SELF)
        record = {
            "flow_run_id": os.environ["PREFECT__FLOW_RUN_ID"],
            "pid": os.getpid(),
            "engine": "prefect.flow_engine" in sys.modules,  # the process that ran the flow
            "forked": "zygote.launch" in sys.modules,  # forked by the preloaded process
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
            "vmhwm_mb": round(_kb("/proc/self/status", ("VmHWM",)) / 1024, 1),
            "pss_mb": round(_kb("/proc/self/smaps_rollup", ("Pss",)) / 1024, 1),
            "uss_mb": round(
                _kb("/proc/self/smaps_rollup", ("Private_Clean", "Private_Dirty")) / 1024, 1
            ),
            "started": _STARTED,
            "ended": time.time(),
            "pandas": "pandas" in sys.modules,
        }
        path = os.path.join(
            os.environ["HGSYNC_FLEET_PROBE_DIR"], f"{record['flow_run_id']}-{record['pid']}.json"
        )
        with open(path, "w") as out:
            json.dump(record, out)

    atexit.register(_write)
