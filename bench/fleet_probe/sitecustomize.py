"""bench.fleet puts this folder on the worker's PYTHONPATH, so every Python process the worker
starts loads it. In a flow run's process (PREFECT__FLOW_RUN_ID set) it writes, at exit, that
process's own CPU seconds (user + system) and peak RSS (VmHWM, the process's own high-water mark)
to $HGSYNC_FLEET_PROBE_DIR/<flow run id>-<pid>.json. Standard library only: it adds nothing
measurable to what it measures."""

import os

if os.environ.get("PREFECT__FLOW_RUN_ID") and os.environ.get("HGSYNC_FLEET_PROBE_DIR"):
    import atexit
    import json
    import resource
    import sys
    import time

    _STARTED = time.time()
    if os.environ.get("HGSYNC_FLEET_PROFILE"):  # where a run's CPU goes (bench.fleet --profile)
        import cProfile

        _PROFILE = cProfile.Profile()
        _PROFILE.enable()

    def _peak_rss_kb() -> int:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        return 0

    def _write() -> None:
        if os.environ.get("HGSYNC_FLEET_PROFILE"):
            _PROFILE.disable()
            _PROFILE.dump_stats(os.path.join(os.environ["HGSYNC_FLEET_PROBE_DIR"], f"{os.getpid()}.prof"))
        usage = resource.getrusage(resource.RUSAGE_SELF)
        record = {
            "flow_run_id": os.environ["PREFECT__FLOW_RUN_ID"], "pid": os.getpid(),
            "engine": "prefect.flow_engine" in sys.modules,  # the process that ran the flow
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 3), "vmhwm_mb": round(_peak_rss_kb() / 1024, 1),
            "started": _STARTED, "ended": time.time(),
            "pandas": "pandas" in sys.modules,
        }
        path = os.path.join(os.environ["HGSYNC_FLEET_PROBE_DIR"], f"{record['flow_run_id']}-{record['pid']}.json")
        with open(path, "w") as out:
            json.dump(record, out)

    atexit.register(_write)
