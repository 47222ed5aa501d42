"""The Pub/Sub API subscriber (`sfgr subscribe`): the process (process.py) and one stream per
channel (stream.py)."""
