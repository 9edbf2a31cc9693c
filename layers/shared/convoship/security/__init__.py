"""Protection at the edges: encryption at rest, SSRF guard, outbound HTTP, visitor tokens."""
