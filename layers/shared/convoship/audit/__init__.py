"""The audit trail: recording admin writes in their transaction, and the compliance search."""
