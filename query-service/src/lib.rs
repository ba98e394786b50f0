//! query-service: see README.md for what this service does.
