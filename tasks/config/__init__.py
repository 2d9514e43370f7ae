"""The one validated configuration: `config.yaml` loaded into pydantic models, and the fleet file.

The sections of config.yaml are private modules, one part each: the production log (`_data`),
the estimator and its allow-list (`_estimators`), the metric (`_metric`), the retraining policy
(`_policy`; its adaptive bars, follow-up and back-off: `_adaptive`), the gate (`_promotion`),
windows and how a run runs (`_runs`), the registry, history and reports (`_stores`), the model
card's owner and intended use (`_card`), the data-quality gate (`_quality`), the whole
(`_config`) and its loading (`_loading`); the fleet file is
`_fleet`. Import from here.
"""

from tasks.config._adaptive import BackoffConfig, DropReferenceConfig, FollowUpConfig
from tasks.config._base import Duration, Strict, parse_duration
from tasks.config._card import CardConfig
from tasks.config._config import Config
from tasks.config._data import DataConfig, FileSourceConfig, ReadRetryConfig, SqlSourceConfig
from tasks.config._estimators import SKLEARN_ESTIMATOR_MODULES, ModelConfig, estimator_kind
from tasks.config._fleet import (
    Fleet,
    FleetConfig,
    FleetMember,
    deep_merge,
    load_fleet,
    read_fleet_config,
)
from tasks.config._loading import load_config, parse_config
from tasks.config._metric import (
    CLASSIFICATION_METRICS,
    ERROR_METRICS,
    REGRESSION_METRICS,
    MetricConfig,
    MetricName,
)
from tasks.config._policy import (
    ColumnDriftConfig,
    ConfirmationConfig,
    ConfirmationsConfig,
    EstimatedPerformanceConfig,
    PolicyConfig,
    PredictionDriftConfig,
    WatchConfig,
)
from tasks.config._promotion import ApprovalConfig, GuardsConfig, PromotionConfig, SlicesConfig
from tasks.config._quality import (
    CHECKS,
    COLUMN_CHECKS,
    DEFAULT_MIN_RECENT_WINDOWS,
    DEFAULT_MIN_ROWS,
    DEFAULT_TOLERANCES,
    WINDOW_CHECKS,
    CheckName,
    DataQualityConfig,
    TolerancesConfig,
)
from tasks.config._runs import (
    BootstrapConfig,
    OrchestrationConfig,
    SamplingConfig,
    TrainingConfig,
    WindowsConfig,
)
from tasks.config._stores import (
    HISTORY_DIALECTS,
    MLFLOW_SCHEMES,
    HistoryConfig,
    RegistryConfig,
    ReportsConfig,
    WorkspaceRetryConfig,
    check_history_url,
    is_service_url,
)

__all__ = [
    "CHECKS",
    "CLASSIFICATION_METRICS",
    "COLUMN_CHECKS",
    "DEFAULT_MIN_RECENT_WINDOWS",
    "DEFAULT_MIN_ROWS",
    "DEFAULT_TOLERANCES",
    "ERROR_METRICS",
    "HISTORY_DIALECTS",
    "MLFLOW_SCHEMES",
    "REGRESSION_METRICS",
    "SKLEARN_ESTIMATOR_MODULES",
    "WINDOW_CHECKS",
    "ApprovalConfig",
    "BackoffConfig",
    "BootstrapConfig",
    "CardConfig",
    "CheckName",
    "ColumnDriftConfig",
    "Config",
    "ConfirmationConfig",
    "ConfirmationsConfig",
    "DataConfig",
    "DataQualityConfig",
    "DropReferenceConfig",
    "Duration",
    "EstimatedPerformanceConfig",
    "FileSourceConfig",
    "Fleet",
    "FleetConfig",
    "FleetMember",
    "FollowUpConfig",
    "GuardsConfig",
    "HistoryConfig",
    "MetricConfig",
    "MetricName",
    "ModelConfig",
    "OrchestrationConfig",
    "PolicyConfig",
    "PredictionDriftConfig",
    "PromotionConfig",
    "ReadRetryConfig",
    "RegistryConfig",
    "ReportsConfig",
    "SamplingConfig",
    "SlicesConfig",
    "SqlSourceConfig",
    "Strict",
    "TolerancesConfig",
    "TrainingConfig",
    "WatchConfig",
    "WindowsConfig",
    "WorkspaceRetryConfig",
    "check_history_url",
    "deep_merge",
    "estimator_kind",
    "is_service_url",
    "load_config",
    "load_fleet",
    "parse_config",
    "parse_duration",
    "read_fleet_config",
]
