"""Inbound deliveries from Salesforce and GetResponse, up to the canonical `ChangeEvent`.

The api's whole job on the request path (design.md, "Processes"): prove the sender is who it
claims (`authentication`), read a bounded body (`body`), turn the vendor payload into
`ChangeEvent`s (`outbound_messages`, `change_events`, `webhooks`: pure functions), publish them and
wait for Kafka's acknowledgement (`publishing`). Every refusal is an `InboundRejected`; the routers
in `app/api/` only render it in the sender's own dialect (SOAP fault or JSON).
"""
