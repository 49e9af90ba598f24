"""Cross-cutting pieces every domain uses: database, errors, security, metrics, jobs."""
