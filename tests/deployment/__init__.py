"""The platform deployed as separate hosts (Linux network namespaces) on one machine."""
