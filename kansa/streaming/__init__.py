"""Streaming out: every event of a tenant's log pushed, in seq order and provably complete, to
where security teams work (webhook, NATS JetStream, S3-compatible storage), or pulled.

Domain (no I/O): ``destinations`` (what a destination is, read from a client), ``sealing``
(its secret encrypted), ``batches`` (what one delivery carries and its proof fields),
``retry`` (back-off and when a destination is degraded), ``proof`` (checking what arrived).
Delivery (I/O): ``senders`` (one per kind) and ``worker`` (claims cursors, delivers, records).
"""
