"""modelmon: a self-hosted model monitor with SageMaker Model Monitor compatible files."""

__version__ = "0.1.0"
