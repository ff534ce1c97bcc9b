"""The Slack app, the scheduler, the reports and the `gapbot` command line."""
