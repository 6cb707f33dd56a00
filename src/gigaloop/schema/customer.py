"""Customers: pseudonymous owners, their subscriptions, offers, service and feedback."""

from gigaloop.schema.fleet import CLIMATES
from gigaloop.schema.table import Table, col

CUSTOMERS = Table(
    "customers", "customer", "A customer (pseudonymous) and the vehicle delivered to them.",
    key=("customer_id",), partition_by="event_time", columns=(
        col("customer_id", "string", "pseudonymous id"),
        col("vin", "string", "vehicle delivered", references="vehicles.vin"),
        col("region", "string", "home region"),
        col("climate_region", "string", "climate of the home region", choices=CLIMATES),
        col("delivered_on", "date", "delivery date"),
        col("consent_telemetry", "bool", "agreed to share driving data"),
        col("consent_marketing", "bool", "agreed to receive offers"),
        col("consent_insurance", "bool", "agreed to score-based insurance"),
    ))

SUBSCRIPTIONS = Table(
    "subscriptions", "customer",
    "A paid software subscription's state changes: one row when it starts (active), one more "
    "when it ends (ended, with ended_on). Its latest state is its row with the latest status.",
    key=("subscription_id", "status"), partition_by="event_time", columns=(
        col("subscription_id", "string", "id"),
        col("status", "string", "state this row records", choices=("active", "ended")),
        col("customer_id", "string", "customer", references="customers.customer_id"),
        col("product", "string", "fsd, connectivity, …"),
        col("started_on", "date", "start"),
        col("ended_on", "date", "end (null while active)", nullable=True),
        col("monthly_price_usd", "float64", "price", unit="USD/month", min=0),
    ))

OFFERS = Table(
    "offers", "customer", "An offer made to a customer and its outcome.",
    key=("offer_id",), partition_by="event_time", columns=(
        col("offer_id", "string", "id"),
        col("customer_id", "string", "customer", references="customers.customer_id"),
        col("campaign_id", "string", "the campaign it belongs to", nullable=True),
        col("product", "string", "product offered"),
        col("channel", "string", "app, email, service centre"),
        col("price_usd", "float64", "offered price", unit="USD", min=0),
        col("accepted", "bool", "taken up", nullable=True),
    ))

SERVICE_VISITS = Table(
    "service_visits", "customer", "A service visit (repair, campaign, predictive service).",
    key=("visit_id",), partition_by="event_time", columns=(
        col("visit_id", "string", "id"),
        col("vin", "string", "vehicle", references="vehicles.vin"),
        col("reason", "string", "repair, campaign, predictive, …"),
        col("campaign_id", "string", "service campaign / recall", nullable=True),
        col("component", "string", "component serviced", nullable=True),
        col("cost_usd", "float64", "cost", unit="USD", min=0),
        col("part_condition", "string", "what the technician found on a part removed before "
            "it failed", choices=("degraded", "serviceable"), nullable=True),
    ))

FEEDBACK = Table(
    "feedback", "customer", "What a customer told us.",
    key=("feedback_id",), partition_by="event_time", columns=(
        col("feedback_id", "string", "id"),
        col("customer_id", "string", "customer", references="customers.customer_id"),
        col("channel", "string", "app, survey, service"),
        col("rating", "int64", "1–5 stars", min=1, max=5, nullable=True),
        col("topic", "string", "what it was about"),
    ))

PREMIUMS = Table(
    "premiums", "customer",
    "A consenting driver's insurance price for a period, from the claim-frequency model "
    "(gigaloop.customer.premiums).",
    key=("premium_id",), partition_by="event_time", columns=(
        col("premium_id", "string", "customer/period start"),
        col("customer_id", "string", "customer", references="customers.customer_id"),
        col("vin", "string", "vehicle priced", references="vehicles.vin"),
        col("period_start", "date", "first day the price covers"),
        col("period_days", "int64", "days the price covers", unit="d", min=1),
        col("expected_claims", "float64", "insurance claims the model expects in the period",
            min=0),
        col("premium_usd", "float64", "price of the period", unit="USD", min=0),
        col("factors_json", "string",
            "each factor a driver can change as its multiplier on the mean driver's price, "
            "JSON"),
    ))

TABLES = (CUSTOMERS, SUBSCRIPTIONS, OFFERS, SERVICE_VISITS, FEEDBACK, PREMIUMS)
