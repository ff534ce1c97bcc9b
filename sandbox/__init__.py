"""The sandbox: fake services and generated organisations for tests, benchmarks and the demo."""
