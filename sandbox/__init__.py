"""Fake Jira, GitHub (and Slack) servers on localhost: what tests, benchmarks and the demo use."""
