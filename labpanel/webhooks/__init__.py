"""Signed webhooks from the event record: an integrator's subscriptions, one delivery per
(subscription, event), each attempt recorded, retried with backoff, dead letters replayable."""
