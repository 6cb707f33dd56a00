"""Software: model versions and their deployments (filled by the fleet learning loop)."""

from gigaloop.schema.table import Table, col

MODEL_VERSIONS = Table(
    "model_versions", "software", "A trained, signed model version.",
    key=("model_version",), partition_by="event_time", columns=(
        col("model_version", "string", "version id"),
        col("model_name", "string", "model family"),
        col("parent_version", "string", "version it was trained from", nullable=True),
        col("trained_through", "date", "last day of training data"),
        col("metrics_json", "string", "held-out metrics as JSON"),
        col("sha256", "string", "digest of the artefact"),
        col("signature", "string", "signature of the digest", nullable=True),
        col("length", "int64", "artefact size in bytes", unit="B", min=0, nullable=True),
        col("hardware", "string",
            "hardware revisions it runs on, comma-separated (null: every revision)",
            nullable=True),
    ))

DEPLOYMENTS = Table(
    "deployments", "software", "A stage of a rollout of a model version to part of the fleet.",
    key=("deployment_id",), partition_by="event_time", columns=(
        col("deployment_id", "string", "id"),
        col("model_version", "string", "version", references="model_versions.model_version"),
        col("stage", "string", "shadow, canary, staged, full, rolled_back"),
        col("fleet_fraction", "float64", "share of the fleet", min=0, max=1),
        col("status", "string",
            "active, completed (a shadow that passed), rejected (one that failed), "
            "rolled_back, refused (by the vehicles on every hardware revision)"),
    ))

TABLES = (MODEL_VERSIONS, DEPLOYMENTS)
