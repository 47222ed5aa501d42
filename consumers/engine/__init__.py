"""The sync engine: how one change to a person is applied to the other system.

`to_getresponse` and `to_salesforce` are the two directions; `locked` holds the context of one
locked contact link and the apply step both share; `merge` resolves and writes; `creation` puts a
new person on the other side (every path: live and first sync); `pending` waits for GetResponse's
asynchronous creates; `people` reads a person on either side; `campaigns` joins a sync's
Salesforce Campaign.
"""
