"""HTTP: the control-plane REST API, SageMaker's wire protocols, and the server app."""
