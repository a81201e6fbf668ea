"""Celery app whose beat schedule deletes old notifications."""
