"""The estimator a challenger is trained with (`model`): the allow-list of modules, the one
resolver of an estimator's import path, and the check of its parameters."""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from tasks.config._base import Strict

# Modules whose classifiers model.estimator may name; model.allowed_modules adds to them.
# Importing a module runs its code, so nothing outside this list is imported from the config.
SKLEARN_ESTIMATOR_MODULES = (
    "sklearn.calibration",
    "sklearn.discriminant_analysis",
    "sklearn.dummy",
    "sklearn.ensemble",
    "sklearn.gaussian_process",
    "sklearn.linear_model",
    "sklearn.multiclass",
    "sklearn.naive_bayes",
    "sklearn.neighbors",
    "sklearn.neural_network",
    "sklearn.semi_supervised",
    "sklearn.svm",
    "sklearn.tree",
)


def _module_allowed(module_name: str, allowed: list[str]) -> bool:
    return any(module_name == a or module_name.startswith(f"{a}.") for a in allowed)


def resolve_estimator(path: str, allowed_modules: Sequence[str] = ()) -> type:
    """The class an estimator's import path names, imported only from an allowed module
    (scikit-learn's estimator modules and allowed_modules); ValueError naming the problem."""
    module_name, _, class_name = path.rpartition(".")
    if not module_name:
        raise ValueError(
            f"'{path}' is not an import path like sklearn.linear_model.LogisticRegression"
        )
    if not _module_allowed(module_name, [*SKLEARN_ESTIMATOR_MODULES, *allowed_modules]):
        raise ValueError(
            f"module '{module_name}' is not allowed: estimators may come from scikit-learn's "
            "estimator modules (sklearn.ensemble, sklearn.linear_model, ...) or a module listed "
            "in model.allowed_modules; add it there if you trust its code"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ValueError(f"cannot import module '{module_name}': {error}") from None
    if not hasattr(module, class_name):
        raise ValueError(f"module '{module_name}' has no '{class_name}'")
    estimator_class: type = getattr(module, class_name)
    return estimator_class


class ModelConfig(Strict):
    allowed_modules: list[str] = Field(
        default=[],
        description="Modules (and their submodules) trusted for model.estimator, in addition "
        "to scikit-learn's estimator modules, e.g. [xgboost, lightgbm].",
    )
    estimator: str = Field(
        description="Import path of a scikit-learn style classifier or regressor; a regressor "
        "needs a regression metric in policy.performance_metric (mae, rmse, mape, r2, pinball)."
    )
    params: dict[str, Any] = Field(
        default={},
        description="Keyword arguments of the estimator, e.g. {n_estimators: 100}; checked "
        "against the estimator when the config loads.",
    )

    @field_validator("allowed_modules")
    @classmethod
    def _check_module_names(cls, value: list[str]) -> list[str]:
        bad = [name for name in value if not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", name)]
        if bad:
            raise ValueError(f"{bad} are not module names like xgboost or lightgbm.sklearn")
        return value

    @field_validator("estimator")
    @classmethod
    def _check_importable(cls, value: str, info: ValidationInfo) -> str:
        estimator_class = resolve_estimator(value, info.data.get("allowed_modules", []))
        if estimator_kind(estimator_class) is None:
            raise ValueError(
                f"'{value}' is not a scikit-learn style classifier or regressor class "
                "(a subclass of sklearn.base.ClassifierMixin or RegressorMixin)"
            )
        return value

    @property
    def estimator_class(self) -> type:
        """The class model.estimator names (checked when the config loaded)."""
        return resolve_estimator(self.estimator, self.allowed_modules)

    @property
    def kind(self) -> Literal["classifier", "regressor"]:
        """Whether model.estimator predicts classes or numbers."""
        return estimator_kind(self.estimator_class) or "classifier"

    @field_validator("params")
    @classmethod
    def _check_params(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        if "estimator" in info.data:  # else the estimator's own error is reported
            estimator = info.data["estimator"]
            estimator_class = resolve_estimator(estimator, info.data.get("allowed_modules", []))
            _check_estimator_params(estimator_class, estimator.rpartition(".")[2], value)
        return value


# "The 'n_estimators' parameter of RandomForestClassifier must be ... Got 'many' instead."
_SKLEARN_PARAM_ERROR = re.compile(
    r"^The '(?P<name>[^']+)' parameter of (?P<owner>\S+) must be (?P<allowed>.*)\. "
    r"Got (?P<value>.*) instead\.$",
    re.DOTALL,
)


def _param_error(name: str | None, message: str) -> PydanticCustomError:
    """An error located at model.params.<name> (model.params when no single name is to blame)."""
    return PydanticCustomError("model_param", "{message}", {"param": name, "message": message})


def _check_estimator_params(estimator_class: type, class_name: str, params: dict[str, Any]) -> None:
    """Construct the estimator with params and let it validate them, as fit would, without data."""
    accepted = inspect.signature(estimator_class).parameters.values()
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted):
        names = sorted(p.name for p in accepted)
        for name in params:
            if name not in names:
                raise _param_error(
                    name, f"not a parameter of {class_name} (it takes: {', '.join(names)})"
                )
    required = [
        p.name
        for p in accepted
        if p.default is inspect.Parameter.empty
        and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        and p.name not in params
    ]
    if required:
        raise _param_error(
            required[0],
            f"{class_name} requires it (no default); an estimator object cannot be written in "
            "config.yaml: choose another estimator, or a class of yours that builds it, listed "
            "in model.allowed_modules",
        )
    try:
        instance = estimator_class(**params)
    except Exception as error:  # a constructor can fail in any way; name it and stop
        raise _param_error(None, f"{class_name}({_call_text(params)}) fails: {error}") from None
    if not hasattr(instance, "_parameter_constraints"):
        return  # an estimator without scikit-learn's declared constraints checks them in fit
    try:
        instance._validate_params()  # what scikit-learn's fit runs first
    except (ValueError, TypeError) as error:
        match = _SKLEARN_PARAM_ERROR.match(str(error))
        if match is None:
            raise _param_error(None, str(error)) from None
        raise _param_error(
            match.group("name"),
            f"must be {match.group('allowed')} for {match.group('owner')}, "
            f"got {match.group('value')}",
        ) from None


def _call_text(params: dict[str, Any]) -> str:
    return ", ".join(f"{name}={value!r}" for name, value in params.items())


def estimator_kind(candidate: Any) -> Literal["classifier", "regressor"] | None:
    """'classifier' or 'regressor' for a scikit-learn style estimator class; None otherwise."""
    from sklearn.base import ClassifierMixin, RegressorMixin

    if not isinstance(candidate, type):
        return None
    if issubclass(candidate, ClassifierMixin):
        return "classifier"
    if issubclass(candidate, RegressorMixin):
        return "regressor"
    return None
