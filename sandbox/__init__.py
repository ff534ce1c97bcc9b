"""Fake Jira, GitHub and Slack servers on localhost, and a generated organisation."""
