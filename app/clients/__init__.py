"""aiohttp clients for the Salesforce and GetResponse APIs: auth, limits, error mapping.

Callers import from the modules: `salesforce.SalesforceClient`, `getresponse.GetResponseClient`,
`limits.AccountLimiter`, `errors` (what a call can end in) and `retry.retrying`.
"""
