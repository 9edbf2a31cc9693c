"""Logger and Metrics, created once for the whole container (Powertools)."""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics

from convoship.core import constants as env

logger = Logger(service=os.environ.get(env.SERVICE_NAME, "convoship"))
metrics = Metrics(namespace=os.environ.get(env.METRICS_NAMESPACE, "ConvoShip"))
