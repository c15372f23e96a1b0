"""Core node types. `automation.apps` registers them; connectors live in integrations/."""
