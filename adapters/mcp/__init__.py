"""The Model Context Protocol endpoint: AI agents use the API's commands and views as tools."""
