"""Retrieval and ranking: a query -> candidates of every kind -> one relevance scale ->
grouped, finished hits (searcher, filters, fusion, calibration, grouping, moments)."""
