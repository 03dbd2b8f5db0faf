"""Server settings: where data lives and the identity SageMaker-style names use.

Every setting has an embedded default and an environment variable, so one
``modelmon serve`` works out of the box and a deployment changes only its
environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from modelmon.db.session import database_url
from modelmon.storage.files import object_root, s3_service_configured, set_object_root

DEFAULT_DATA_DIR = "modelmon-data"


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as err:
        raise ValueError(f"{name}={raw!r} is not a number") from err


@dataclass
class Settings:
    """Where the server keeps its state, and the account it pretends to be."""

    data_dir: Path = field(
        default_factory=lambda: Path(os.environ.get("MODELMON_DATA_DIR", DEFAULT_DATA_DIR))
    )
    region: str = field(default_factory=lambda: os.environ.get("MODELMON_REGION", "us-east-1"))
    account_id: str = field(
        default_factory=lambda: os.environ.get("MODELMON_ACCOUNT_ID", "000000000000")
    )
    capture_disk_threshold: float = field(
        default_factory=lambda: _env_float("MODELMON_CAPTURE_DISK_THRESHOLD", 0.75)
    )
    capture_queue_size: int = field(
        default_factory=lambda: int(_env_float("MODELMON_CAPTURE_QUEUE_SIZE", 10_000))
    )
    reconcile_interval: float = field(
        default_factory=lambda: _env_float("MODELMON_RECONCILE_INTERVAL", 2.0)
    )
    transform_jobs: int = field(
        default_factory=lambda: int(_env_float("MODELMON_TRANSFORM_JOBS", 2))
    )
    max_executions: int = field(
        default_factory=lambda: int(_env_float("MODELMON_MAX_EXECUTIONS", 2))
    )
    execution_grace: float = field(
        default_factory=lambda: _env_float("MODELMON_EXECUTION_GRACE", 15.0)
    )
    scheduler: bool = field(
        default_factory=lambda: (
            os.environ.get("MODELMON_SCHEDULER", "on").strip().lower()
            not in ("off", "0", "false", "no")
        )
    )
    # `modelmon serve` starts an asynchronous inference worker process (off: run `modelmon worker`)
    async_workers: bool = field(
        default_factory=lambda: (
            os.environ.get("MODELMON_ASYNC_WORKERS", "on").strip().lower()
            not in ("off", "0", "false", "no")
        )
    )

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).resolve()
        if self.transform_jobs < 1:
            raise ValueError(
                f"MODELMON_TRANSFORM_JOBS must be at least 1, got {self.transform_jobs}"
            )
        if self.max_executions < 1:
            raise ValueError(
                f"MODELMON_MAX_EXECUTIONS must be at least 1, got {self.max_executions}"
            )
        if self.execution_grace < 0:
            raise ValueError(
                f"MODELMON_EXECUTION_GRACE must not be negative, got {self.execution_grace}"
            )
        if not 0.0 < self.capture_disk_threshold <= 1.0:
            raise ValueError(
                "MODELMON_CAPTURE_DISK_THRESHOLD must be in (0, 1], "
                f"got {self.capture_disk_threshold}"
            )

    @property
    def database_url(self) -> str:
        return database_url(self.data_dir)

    @property
    def default_bucket(self) -> str:
        """The SageMaker SDK's default bucket name for this region and account."""
        return os.environ.get(
            "MODELMON_DEFAULT_BUCKET", f"sagemaker-{self.region}-{self.account_id}"
        )

    @property
    def objects_dir(self) -> Path:
        return self.data_dir / "objects"

    @property
    def model_cache_dir(self) -> Path:
        return self.data_dir / "model-cache"

    @property
    def capture_spool_dir(self) -> Path:
        return self.data_dir / "capture-spool"

    @property
    def executions_dir(self) -> Path:
        """Work directories (and logs) of monitoring executions, one per execution id."""
        return self.data_dir / "executions"

    def prepare(self) -> None:
        """Create the directories and point ``s3://`` at the object directory
        (unless a real S3 service or another root is configured)."""
        for directory in (self.data_dir, self.model_cache_dir, self.capture_spool_dir):
            directory.mkdir(parents=True, exist_ok=True)
        if object_root() is None and not s3_service_configured():
            self.objects_dir.mkdir(parents=True, exist_ok=True)
            set_object_root(self.objects_dir)

    def arn(self, kind: str, name: str) -> str:
        """``arn:aws:sagemaker:{region}:{account}:{kind}/{name}``, name lower-cased as AWS does."""
        return f"arn:aws:sagemaker:{self.region}:{self.account_id}:{kind}/{name.lower()}"
