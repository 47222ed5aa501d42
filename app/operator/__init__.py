"""The operator's commands of `sfgr` (syncs, jobs, dead letters, contacts), which talk to the
control API over HTTP, so that they work from a laptop through a port-forward."""
