"""Developer tooling: local servers, the template-driven runner, CLI, benchmarks.

Never shipped to Lambda (the layer is layers/shared/convoship only).
"""
