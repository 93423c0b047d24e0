"""HTTP routes: each parses, calls the domain, and maps the result to a response."""
