"""Everything auth_service keeps in MongoDB: users, unique by email."""

from dataclasses import dataclass

from bson import ObjectId
from pymongo import ASCENDING
from pymongo.errors import DuplicateKeyError

from common.clock import utc_now
from common.mongo import Database


class EmailTaken(Exception):
    pass


@dataclass(frozen=True, slots=True)
class User:
    id: str
    email: str
    password_hash: bytes


class UserStore:
    def __init__(self, db: Database) -> None:
        self._users = db["users"]

    async def create_indexes(self) -> None:
        await self._users.create_index([("email", ASCENDING)], unique=True, name="email_unique")

    async def create(self, email: str, password_hash: bytes) -> User:
        """Insert a user; the unique index, not a prior lookup, decides races on the email."""
        doc = {
            "_id": ObjectId(),
            "email": email,
            "password_hash": password_hash,
            "created_at": utc_now(),
        }
        try:
            await self._users.insert_one(doc)
        except DuplicateKeyError:
            raise EmailTaken(email) from None
        return User(id=str(doc["_id"]), email=email, password_hash=password_hash)

    async def by_email(self, email: str) -> User | None:
        doc = await self._users.find_one({"email": email})
        if doc is None:
            return None
        return User(id=str(doc["_id"]), email=doc["email"], password_hash=doc["password_hash"])
