"""How every service's MongoDB client is set up (common/mongo.py)."""

from common.mongo import connect_mongo

# The local stand-in closes a connection idle for 300 s (secantusdb's client idle timeout); many
# load balancers and NATs drop idle connections sooner still.
SERVER_IDLE_TIMEOUT_S = 300


async def test_a_pooled_connection_is_retired_before_a_server_would_drop_it():
    # A dropped connection is only noticed when a request is sent on it, and a write is not
    # retried: a service left idle for five minutes answered its next sign-up with a 503.
    client = connect_mongo("mongodb://127.0.0.1:1/?retryWrites=false")
    try:
        idle = client.options.pool_options.max_idle_time_seconds
        assert idle is not None and idle < SERVER_IDLE_TIMEOUT_S
        assert client.write_concern.document == {"w": "majority", "j": True}
    finally:
        await client.close()
