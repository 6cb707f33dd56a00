"""gigaloop: a factory, its connected vehicles and their customers in one learning loop.

>>> import gigaloop
>>> gigaloop.__version__
'0.1.0'
"""

from gigaloop.errors import (
    AccessDenied,
    ActuationError,
    AuthError,
    ConfigError,
    ConflictError,
    EngineError,
    GigaloopError,
    GigaloopWarning,
    IngestError,
    MissingExtraError,
    ModelError,
    NotFoundError,
    PayloadTooLarge,
    ScenarioError,
    SchemaError,
    StoreError,
    UnsupportedFormat,
)

__version__ = "0.1.0"

__all__ = [
    "AccessDenied",
    "ActuationError",
    "AuthError",
    "ConfigError",
    "ConflictError",
    "EngineError",
    "GigaloopError",
    "GigaloopWarning",
    "IngestError",
    "MissingExtraError",
    "ModelError",
    "NotFoundError",
    "PayloadTooLarge",
    "ScenarioError",
    "SchemaError",
    "StoreError",
    "UnsupportedFormat",
    "__version__",
]
