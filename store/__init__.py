"""The store: SQLModel tables, engines, migrations and the queries the rest share."""
