"""Django's PostgreSQL backend with timestamps loaded by psycopg's C loader (``base``)."""
