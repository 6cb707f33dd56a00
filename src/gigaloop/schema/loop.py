"""What the loop itself produces: decisions, findings and change requests, as rows.

Rows are immutable in the store, so a record that evolves (a finding re-tested every
week, a change request moving through its states) is one row per scan or per state;
its latest row is its current state.
"""

from gigaloop.schema.table import Table, col

DECISIONS = Table(
    "decisions", "loop", "A decision a module made on a day, with the action it sent.",
    key=("module", "day", "seq"), partition_by="event_time", columns=(
        col("module", "string", "decision module"),
        col("day", "int64", "run day (0 = the first)", min=0),
        col("seq", "int64", "order among the module's decisions that day", min=0),
        col("summary", "string", "what was decided, in words"),
        col("action_kind", "string", "kind of the action sent", nullable=True),
        col("action_json", "string", "the action's payload", nullable=True),
        col("accepted", "bool", "whether the actuator accepted it", nullable=True),
        col("finding_id", "string", "the finding it reports", nullable=True),
        col("finding_json", "string", "that finding's record as reported, JSON", nullable=True),
        col("inputs_json", "string", "the evidence it was decided on, JSON"),
    ))

FINDINGS = Table(
    "findings", "loop", "A root-cause finding as one weekly scan saw it.",
    key=("finding_id", "day"), partition_by="event_time", columns=(
        col("finding_id", "string", "id (F001 …), stable across scans"),
        col("day", "int64", "run day of the scan", min=0),
        col("failure_mode", "string", "component or rate measure"),
        col("attribute", "string", "genealogy attribute tested"),
        col("names_json", "string", "what it points at (lot, station, window …), JSON"),
        col("effect_kind", "string", "hazard_ratio or rate_ratio"),
        col("effect", "float64", "effect size", min=0),
        col("ci_low", "float64", "95 % interval, low"),
        col("ci_high", "float64", "95 % interval, high"),
        col("q", "float64", "Benjamini–Hochberg q value", min=0, max=1),
        col("rank", "int64", "rank within its failure mode", min=1),
        col("affected_vehicles", "int64", "vehicles it names", min=0),
        col("day_found", "int64", "run day it was first reported", min=0),
        col("active", "bool", "seen in this scan (false: no longer significant)"),
        col("retracted", "bool", "withdrawn for good: its evidence faded (this scan says why)"),
        col("retracted_reason", "string", "why it was retracted", nullable=True),
    ))

CHANGE_REQUESTS = Table(
    "change_requests", "loop", "An engineering change request as one revision left it.",
    key=("change_id", "revision"), partition_by="event_time", columns=(
        col("change_id", "string", "id (C001 …)"),
        col("revision", "int64", "1 when raised, one more at every change of the record", min=1),
        col("state", "string", "state after this revision",
            choices=("proposed", "effective", "verified", "failed", "rejected", "withdrawn")),
        col("day", "int64", "run day of the revision", min=0),
        col("finding_id", "string", "the finding it acts on"),
        col("failure_mode", "string", "failure mode of the finding"),
        col("action", "string", "what it does, in words"),
        col("campaign_vehicles", "int64", "vehicles its service campaign covers", min=0),
        col("record_json", "string", "the whole record (evidence, impact …), JSON"),
    ))

CHANGE_REVIEWS = Table(
    "change_reviews", "loop", "A person's verdict on a change request (`gigaloop serve`'s "
    "review route writes it); the loop acts on it when its approval is reviewed.",
    key=("change_id",), partition_by="event_time", columns=(
        col("change_id", "string", "the change request"),
        col("revision", "int64", "the revision the verdict was given on", min=1),
        col("verdict", "string", "the verdict", choices=("approved", "rejected")),
        col("reviewer", "string", "who gave it"),
        col("comment", "string", "why", nullable=True),
    ))

OFFER_ASSIGNMENTS = Table(
    "offer_assignments", "loop",
    "Who a campaign assigned: an experiment's treatment and control, a targeted round's "
    "chosen and its random holdout (pseudonymous ids only).",
    key=("campaign_id", "customer_id"), partition_by="event_time", columns=(
        col("campaign_id", "string", "campaign (X-fsd-001: experiment, T-fsd-003: targeted)"),
        col("customer_id", "string", "customer (pseudonymous)"),
        col("product", "string", "product of the campaign"),
        col("arm", "string", "what the customer was assigned to",
            choices=("treatment", "control", "targeted", "holdout")),
        col("day", "int64", "run day of the assignment", min=0),
        col("predicted_uplift_usd", "float64", "the uplift model's estimate (null in an "
            "experiment)", unit="USD", nullable=True),
    ))

TABLES = (DECISIONS, FINDINGS, CHANGE_REQUESTS, CHANGE_REVIEWS, OFFER_ASSIGNMENTS)
