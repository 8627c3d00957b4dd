"""Real servers on loopback for the tests: docker-registry, GitHub, PyPI and torch index fakes."""
