"""Errors of autoretrain: each names the problem and what to do about it."""


class AutoretrainError(Exception):
    """Base class: a problem the user can fix, reported without a traceback by the CLIs."""


class ConfigError(AutoretrainError):
    """The configuration file is missing, unreadable or invalid."""


class DataError(AutoretrainError):
    """The production log cannot be read or does not match the configuration."""


class ModelError(AutoretrainError):
    """A model cannot be built, trained, loaded or used."""


class RegistryError(AutoretrainError):
    """The model registry is missing something or refuses a change."""


class PrefectApiError(AutoretrainError):
    """The Prefect API kept failing (busy or unreachable) past the retry budget."""
