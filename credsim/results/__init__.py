"""Results: run tables and files, the DuckDB catalog, the scorecard."""
