"""``Idempotency-Key`` on the API's POSTs: a retry with the same key gets the first answer,
without the work being done again (``views.IdempotentPosts``; keys in ``models``)."""
