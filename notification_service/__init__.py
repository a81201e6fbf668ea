"""Consumes PostCreated, keeps one notification per post, serves them with per-user read state."""
