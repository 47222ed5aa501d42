"""A strict simulator of the GetResponse API v3 and its webhooks; see `app.py`."""
