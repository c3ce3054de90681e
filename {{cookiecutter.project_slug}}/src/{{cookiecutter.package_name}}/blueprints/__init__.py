"""HTTP endpoints, one blueprint per resource."""

# Every API route lives under this prefix (health checks and the OpenAPI document do not).
API_PREFIX = "/api/"
