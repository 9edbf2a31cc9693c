"""HTTP glue shared by every API function: app factory, problems, request context."""
