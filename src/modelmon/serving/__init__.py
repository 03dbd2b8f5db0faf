"""Serving: model runtimes, endpoints, invocation, data capture, batch transform."""
