"""Tests through the HTTP API (FastAPI's TestClient), each on a fresh database."""
