"""Sources of work items: Jira, GitHub and files, each turned into ItemRecords and links."""
