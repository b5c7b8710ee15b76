"""Runs started from a preloaded process (issue 20): the work pool's command is `python -m
zygote.launch`, a small launcher that asks a long-lived process (zygote.server, started by `hgsync
worker`) which has Prefect and our flows imported already to fork a child that runs the flow run as
`python -m prefect.engine` would. No answer from it: the launcher becomes `python -m prefect.engine`.

Nothing is imported here: the launcher must stay light."""
