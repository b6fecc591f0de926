"""SQL metadata: SQLAlchemy models (schema owned by Alembic) and the repository."""
