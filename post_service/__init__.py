"""Posts in MongoDB, code snippets in the object store, PostCreated events through an outbox."""
