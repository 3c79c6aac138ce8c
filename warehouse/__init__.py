"""DuckDB warehouse: schema, migrations, bulk idempotent loads, views and read-only access."""
