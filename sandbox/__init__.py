"""Fake Jira, GitHub and Slack servers on localhost, and a generated organisation.

The tests, the benchmarks and `gapbot demo` run against these: real HTTP, real payload shapes,
real errors, no accounts.
"""
