"""A method a path does not take is 405 with every method the path takes in ``Allow``."""

import httpx

from post_service.app import create_app
from post_service.settings import PostSettings


async def test_405_lists_every_method_of_the_path():
    transport = httpx.ASGITransport(app=create_app(PostSettings()))  # built, not started
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        # GET and POST /api/post are two routes: Starlette alone named only the first.
        for method in ("PUT", "DELETE", "OPTIONS"):
            answer = await client.request(method, "/api/post")
            assert answer.status_code == 405
            assert answer.headers["allow"] == "GET, POST"
        answer = await client.request("DELETE", "/api/post/65f0c0ffee0000000000abcd")
        assert answer.status_code == 405 and answer.headers["allow"] == "GET"
        assert (await client.get("/api/post/docs")).status_code == 200
