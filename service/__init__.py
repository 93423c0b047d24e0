"""HTTP API, command line and scheduler of vnmeter."""
