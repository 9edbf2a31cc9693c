"""PostgreSQL: the container connection, RLS-scoped transactions, paging, migrations."""
