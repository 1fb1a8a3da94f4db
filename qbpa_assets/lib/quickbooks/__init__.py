"""QuickBooks Online client: settings, token store, errors and the API client."""
