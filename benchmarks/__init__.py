"""Reproducible performance runs, each with a naive baseline beside ours."""
