"""Migrations on deploy: the CloudFormation custom resource that applies them."""
