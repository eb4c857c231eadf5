"""Pure rules of the integration: no AWS, no HTTP, only data in and decisions out."""
