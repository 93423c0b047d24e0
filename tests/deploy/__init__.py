"""Tests of the deployment artefacts: the cluster schema and everything under deploy/."""
