"""Foundations: env names, settings, errors, logging and validation."""
