"""How product triggers are activated (`TriggerNode.activation`): by a band
crossing, or on a product schedule. Kept apart so that the trigger nodes and
the services that start their runs both name them without importing each other."""

PRODUCT = "product"
PRODUCT_SCHEDULE = "product_schedule"
