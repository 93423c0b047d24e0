"""Tests of `vnmeter` run as a person runs it: its commands in subprocesses, the service killed and
restarted, the dashboard in a real browser."""
