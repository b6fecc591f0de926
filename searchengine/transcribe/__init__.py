"""Speech to timestamped segments, and segments to search windows."""
