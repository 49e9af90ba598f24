"""Operations: the production topology on one machine (`coins cluster`), Envoy, backups, worker metrics."""
