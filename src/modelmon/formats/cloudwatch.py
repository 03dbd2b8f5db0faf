"""Where monitoring metrics go (SPEC §5.5): CloudWatch namespaces and the metric files' place.

Data-quality metrics of a real-time endpoint go to
``aws/sagemaker/Endpoints/data-metrics``, of batch transform monitoring to
``aws/sagemaker/ModelMonitoring/data-metrics``; model-quality metrics to the
``model-metrics`` namespaces alike.
"""

from __future__ import annotations

ENDPOINT_DATA_NAMESPACE = "aws/sagemaker/Endpoints/data-metrics"
BATCH_DATA_NAMESPACE = "aws/sagemaker/ModelMonitoring/data-metrics"
ENDPOINT_MODEL_NAMESPACE = "aws/sagemaker/Endpoints/model-metrics"
BATCH_MODEL_NAMESPACE = "aws/sagemaker/ModelMonitoring/model-metrics"
# the metric files' directory inside an execution's work directory (SageMaker's
# /opt/ml/output/metrics/cloudwatch)
METRICS_PATH = "opt/ml/output/metrics/cloudwatch"


def data_metrics_namespace(endpoint: str | None) -> str:
    """The namespace of data-quality metrics (real-time endpoint or batch)."""
    return ENDPOINT_DATA_NAMESPACE if endpoint else BATCH_DATA_NAMESPACE


def model_metrics_namespace(endpoint: str | None) -> str:
    """The namespace of model-quality metrics (real-time endpoint or batch)."""
    return ENDPOINT_MODEL_NAMESPACE if endpoint else BATCH_MODEL_NAMESPACE


def metrics_namespace(monitoring_type: str, endpoint: str | None) -> str:
    """The namespace of an execution's metrics: data- or model-metrics, of an endpoint
    or of batch transform monitoring."""
    if monitoring_type == "ModelQuality":
        return model_metrics_namespace(endpoint)
    return data_metrics_namespace(endpoint)
