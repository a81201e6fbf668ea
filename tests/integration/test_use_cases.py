"""The use cases of every service without HTTP, against the real stores: what a route or a
handler calls."""

from datetime import timedelta

import pytest
from minio import Minio

from auth_service import use_cases as accounts
from auth_service.passwords import PasswordHasher
from auth_service.store import EmailTaken, UserStore
from common.events import PostCreated, event_for
from common.leases import Lease
from common.limits import Limited, Rate, RateLimit
from common.messaging import Broker, EventPublisher
from common.mongo import connect_mongo
from common.relay import OutboxRelay
from common.tokens import TokenVerifier
from devstack.processes import free_port
from notification_service import use_cases as notifications
from notification_service.store import NotificationStore
from post_service import use_cases as posts
from post_service.snippets import SnippetStore
from post_service.store import PostStore
from tests.conftest import AUDIENCE, ISSUER

CODE = "print('<&>')\n" * 3
HOUR = timedelta(hours=1)


def relay_for(store: PostStore, db, rabbit_url: str) -> OutboxRelay:
    """A relay that is never started: what the use case hands it waits in its queue."""
    broker = Broker(rabbit_url, name="use-case-test")
    lease, second = Lease(db["leases"], "outbox-sweep:posts"), timedelta(seconds=1)
    return OutboxRelay(store.outbox, lease, broker, EventPublisher(broker, "-"), second, second)


async def post_one(store, db, snippets, rabbit_url: str, code: str | None, **options):
    """``create_post`` by one author, with a relay that is never started."""
    return await posts.create_post(
        posts.Author("author-1", "a@example.com"),
        options.pop("text", "A question"),
        code,
        options.pop("language", None),
        posts=store,
        snippets=snippets,
        relay=relay_for(store, db, rabbit_url),
        correlation=options.pop("correlation", None),
        **options,
    )


def snippets_at(s3, endpoint: str, bucket: str) -> SnippetStore:
    return SnippetStore(endpoint, s3.access_key, s3.secret_key, bucket)


async def test_a_post_is_stored_with_its_snippet_and_its_event(db, s3, rabbit, names):
    store, snippets = PostStore(db), snippets_at(s3, s3.endpoint, names.bucket)
    await store.create_indexes()
    await snippets.ensure_bucket()
    post = (
        await post_one(
            store, db, snippets, rabbit.url, CODE, language="python", correlation="req-1"
        )
    ).post

    opened = await posts.open_post(post["_id"], posts=store, snippets=snippets)
    assert opened is not None and opened.code == CODE
    assert opened.post["code_preview"] == posts.code_preview(CODE)
    raw = await db["posts"].find_one({"_id": post["_id"]})
    assert raw is not None
    [entry] = raw["outbox"]["events"].values()
    event = event_for(entry["routing_key"]).model_validate(entry["event"])
    assert isinstance(event, PostCreated) and event.post.id == str(post["_id"])
    assert entry["correlation_id"] == "req-1" and raw["outbox"]["pending"] == 1


async def test_a_request_sent_again_with_its_key_stores_nothing_more(db, s3, rabbit, names):
    store, snippets = PostStore(db), snippets_at(s3, s3.endpoint, names.bucket)
    await store.create_indexes()
    await snippets.ensure_bucket()

    async def send(text: str):
        return await post_one(
            store,
            db,
            snippets,
            rabbit.url,
            CODE,
            text=text,
            language="python",
            request_key="compose-1234",
        )

    first, again = await send("A question"), await send("A question")
    assert again.post["_id"] == first.post["_id"] and again.code == CODE
    assert await db["posts"].count_documents({}) == 1
    minio = Minio(s3.endpoint, s3.access_key, s3.secret_key, secure=False)
    objects = minio.list_objects(names.bucket, prefix="posts/", recursive=True)
    assert [o.object_name for o in objects] == [first.post["code_key"]], "the repeat's snippet"


async def test_no_snippet_store_stores_nothing(db, s3, rabbit, names):
    store = PostStore(db)
    await store.create_indexes()
    nowhere = snippets_at(s3, f"127.0.0.1:{free_port()}", names.bucket)
    with pytest.raises(posts.SnippetStoreUnavailable):
        await post_one(store, db, nowhere, rabbit.url, CODE)
    assert await db["posts"].count_documents({}) == 0


async def test_notify_stores_one_notification_per_post_whatever_the_repeats(
    db, s3, rabbit, mongo_url, names
):
    # The event as the post use case stores it: what the relay would hand the consumer.
    store = PostStore(db)
    await store.create_indexes()
    post = (
        await post_one(
            store, db, snippets_at(s3, f"127.0.0.1:{free_port()}", names.bucket), rabbit.url, None
        )
    ).post
    [entry] = (await db["posts"].find_one({"_id": post["_id"]}))["outbox"]["events"].values()
    snapshot = PostCreated.model_validate(entry["event"]).post

    client = connect_mongo(mongo_url)
    notes = NotificationStore(client[names.database("notification")], timedelta(days=1))
    await notes.create_indexes()
    first = await notifications.notify([snapshot], store=notes, announcer=None)
    again = await notifications.notify([snapshot, snapshot], store=notes, announcer=None)
    assert [n.post_id for n in first] == [str(post["_id"])] and again == []
    stored = await notes.for_post(str(post["_id"]))
    assert stored is not None and str(stored["_id"]) == first[0].id
    await client.drop_database(names.database("notification"))
    await client.close()


async def test_sign_up_then_sign_in_gives_a_token_and_a_wrong_password_none(
    mongo_url, names, keys, issuer
):
    client = connect_mongo(mongo_url)
    users, passwords = UserStore(client[names.database("auth")]), PasswordHasher(rounds=4)
    await users.create_indexes()
    email = f"{names.suffix}@example.com"
    user = await accounts.sign_up(email, "correct horse", users=users, passwords=passwords)
    with pytest.raises(EmailTaken):
        await accounts.sign_up(email, "another one", users=users, passwords=passwords)

    failures = RateLimit(client[names.database("auth")]["limits"], "f", Rate(2, HOUR), "no")

    def sign_in(password: str):
        return accounts.sign_in(
            email, password, users=users, passwords=passwords, tokens=issuer, failures=failures
        )

    token = await sign_in("correct horse")
    assert token is not None
    verifier = TokenVerifier(keys.public.read_bytes(), ISSUER, AUDIENCE)
    assert verifier.verify(token).id == user.id
    assert await sign_in("wrong horse") is None
    assert await sign_in("wrong horse") is None
    with pytest.raises(Limited):  # past the failures allowed, the right password waits too
        await sign_in("correct horse")
    await client.drop_database(names.database("auth"))
    await client.close()
