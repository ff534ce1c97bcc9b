"""Block Kit builders: pure functions from findings, items and counts to blocks and views.

Nothing here reads the store or calls Slack; listeners and alerts gather the data and call
these. Every piece of outside text passes through `text.escape` and `text.cut`.
"""
