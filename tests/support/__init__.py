"""Shared test harness: servers on free loopback ports, real-client wrappers, media paths."""
