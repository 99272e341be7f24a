"""Platform integrations; each owns its mapping, signature check and tests."""
