"""Monitoring schedules and their executions."""
