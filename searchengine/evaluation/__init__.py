"""`searchengine eval`: retrieval quality of the whole product on a captioned collection."""
