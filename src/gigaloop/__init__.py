"""gigaloop: a factory, its connected vehicles and their customers in one learning loop.

>>> import gigaloop
>>> gigaloop.__version__
'0.1.0'
"""

from gigaloop.errors import (
    ActuationError,
    ConfigError,
    EngineError,
    GigaloopError,
    GigaloopWarning,
    IngestError,
    MissingExtraError,
    ModelError,
    ScenarioError,
    SchemaError,
    StoreError,
)

__version__ = "0.1.0"

__all__ = [
    "ActuationError",
    "ConfigError",
    "EngineError",
    "GigaloopError",
    "GigaloopWarning",
    "IngestError",
    "MissingExtraError",
    "ModelError",
    "ScenarioError",
    "SchemaError",
    "StoreError",
    "__version__",
]
