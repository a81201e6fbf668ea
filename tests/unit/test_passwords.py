from auth_service.passwords import PasswordHasher

hasher = PasswordHasher(rounds=4)


async def test_right_password_matches_and_wrong_one_does_not():
    hashed = await hasher.hash("correct horse")
    assert await hasher.verify("correct horse", hashed)
    assert not await hasher.verify("wrong horse", hashed)


async def test_unknown_user_never_matches():
    assert not await hasher.verify("anything at all", None)


async def test_password_longer_than_72_bytes_never_matches_its_prefix():
    hashed = await hasher.hash("x" * 72)
    assert not await hasher.verify("x" * 73, hashed)
