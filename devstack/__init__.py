"""Throwaway local infrastructure for the demo, tests and development: Postgres, Tansu, processes.

Everything here starts real servers on free loopback ports under a state directory and can stop
exactly what it started. Production never imports this package.
"""
