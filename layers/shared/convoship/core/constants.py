"""Every environment variable name the project reads, in one place."""

STAGE = "CONVOSHIP_STAGE"  # development | test | production
DATABASE_URL = "DATABASE_URL"  # app role connection (never a superuser)
DATABASE_SECRET_ARN = "CONVOSHIP_DATABASE_SECRET_ARN"  # RDS-style JSON secret
# Where the database secrets' roles connect when the secret names no host (or another one):
# the RDS Proxy endpoint when the template creates the database tier.
DATABASE_HOST = "CONVOSHIP_DATABASE_HOST"
REDIS_URL = "REDIS_URL"
# The scheduled purge connects as convoship_purge, not as the app role.
PURGE_DATABASE_URL = "CONVOSHIP_PURGE_DATABASE_URL"
PURGE_DATABASE_SECRET_ARN = "CONVOSHIP_PURGE_DATABASE_SECRET_ARN"
# Key rotation and crypto-shredding connect as convoship_keys (the key custodian).
KEYS_DATABASE_URL = "CONVOSHIP_KEYS_DATABASE_URL"
KEYS_DATABASE_SECRET_ARN = "CONVOSHIP_KEYS_DATABASE_SECRET_ARN"
# Migrations (the migrate function, `convoship migrate`): a role that may create roles and
# own the schema. Locally a URL; on Lambda an RDS-style secret (the cluster's master secret
# holds only username and password: the host then comes from DATABASE_HOST).
DATABASE_ADMIN_URL = "DATABASE_ADMIN_URL"
DATABASE_ADMIN_SECRET_ARN = "CONVOSHIP_DATABASE_ADMIN_SECRET_ARN"
# The layer version the migrate function runs; a deploy's custom resource names the one it
# expects, so a rollback's request (naming the previous one) is told apart.
RELEASE = "CONVOSHIP_RELEASE"
# The daily audit checkpoint connects as convoship_checkpoint and signs chain heads with KMS.
CHECKPOINT_DATABASE_URL = "CONVOSHIP_CHECKPOINT_DATABASE_URL"
CHECKPOINT_DATABASE_SECRET_ARN = "CONVOSHIP_CHECKPOINT_DATABASE_SECRET_ARN"
AUDIT_SIGNING_KEY_ID = "CONVOSHIP_AUDIT_SIGNING_KEY_ID"  # asymmetric KMS key (ECC_NIST_P256)
# Development and tests only (refused in production): an HMAC key that signs checkpoints
# where there is no KMS. Checkpoints it signs say so (algorithm HMAC_SHA_256_DEV).
AUDIT_DEV_SIGNING_KEY = "CONVOSHIP_AUDIT_DEV_SIGNING_KEY"
APP_SECRET_ARN = "CONVOSHIP_APP_SECRET_ARN"  # JSON secret holding the values below by name
SECRETS_KEY = "CONVOSHIP_SECRETS_KEY"  # comma-separated Fernet keys; the first encrypts
KMS_KEY_ID = "CONVOSHIP_KMS_KEY_ID"
JWT_SECRET = "CONVOSHIP_JWT_SECRET"  # comma-separated; the first signs, all verify
JWT_SECRET_ARN = "CONVOSHIP_JWT_SECRET_ARN"  # read by the authorizer only
ALLOW_PRIVATE_NETWORK = "CONVOSHIP_ALLOW_PRIVATE_NETWORK"
DRAFT_RETENTION_DAYS = "CONVOSHIP_DRAFT_RETENTION_DAYS"
DB_CONNECT_TIMEOUT_S = "CONVOSHIP_DB_CONNECT_TIMEOUT_S"
DB_STATEMENT_TIMEOUT_MS = "CONVOSHIP_DB_STATEMENT_TIMEOUT_MS"
KMS_CACHE_TTL_S = "CONVOSHIP_KMS_CACHE_TTL_S"  # unwrapped data keys cached per container
# The platform's default model, used by workspaces that configured none (BYOK wins).
LLM_PROVIDER = "CONVOSHIP_LLM_PROVIDER"  # openai | openai_compatible | anthropic | bedrock
LLM_MODEL = "CONVOSHIP_LLM_MODEL"
LLM_BASE_URL = "CONVOSHIP_LLM_BASE_URL"  # operator-chosen: may be private (no SSRF guard)
LLM_API_KEY = "CONVOSHIP_LLM_API_KEY"  # best kept in the CONVOSHIP_APP_SECRET_ARN secret
LLM_TIMEOUT_S = "CONVOSHIP_LLM_TIMEOUT_S"  # per model call
# A chat turn's model and tool calls together (under the chat function's 30 s timeout)
CHAT_TURN_DEADLINE_S = "CONVOSHIP_CHAT_TURN_DEADLINE_S"
EVAL_CONCURRENCY = "CONVOSHIP_EVAL_CONCURRENCY"  # evals run at once by the publish gate
LOG_LEVEL = "POWERTOOLS_LOG_LEVEL"
SERVICE_NAME = "POWERTOOLS_SERVICE_NAME"

METRICS_NAMESPACE = "POWERTOOLS_METRICS_NAMESPACE"
# Dev tooling and tests only (never read by the layer):
TEST_DATABASE_URL = "TEST_DATABASE_URL"  # tests: a server to use instead of an embedded one
TEST_REDIS_URL = "TEST_REDIS_URL"

STAGES = ("development", "test", "production")
