"""The operators' web console: the funnel, each volunteer's timeline, openings, lag and dead letters, live."""
