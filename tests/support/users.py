"""A person using the API through the gateway, for the end-to-end and browser tests."""

import httpx


class User:
    """A person using the API through the gateway."""

    def __init__(self, gateway: str, email: str, password: str = "correct horse battery") -> None:
        self.email, self.password = email, password
        self.http = httpx.Client(base_url=gateway, timeout=10)
        self.token: str | None = None

    def sign_up(self) -> dict:
        answer = self.http.post(
            "/api/signup", json={"email": self.email, "password": self.password}
        )
        assert answer.status_code == 201, answer.text
        return answer.json()

    def sign_in(self) -> "User":
        answer = self.http.post(
            "/api/signin", json={"email": self.email, "password": self.password}
        )
        assert answer.status_code == 200, answer.text
        self.token = answer.json()["access_token"]
        self.http.headers["Authorization"] = f"Bearer {self.token}"
        return self

    def post(self, text: str, code: str | None = None, language: str | None = None) -> dict:
        answer = self.http.post(
            "/api/post", json={"text": text, "code": code, "language": language}
        )
        assert answer.status_code == 201, answer.text
        return answer.json()

    def feed(self, limit: int = 100) -> list[dict]:
        return self._ok(self.http.get("/api/post", params={"limit": limit}))["items"]

    def notifications(self, limit: int = 100) -> list[dict]:
        return self._ok(self.http.get("/api/notification", params={"limit": limit}))["items"]

    @staticmethod
    def _ok(answer: httpx.Response) -> dict:
        assert answer.status_code == 200, answer.text
        return answer.json()
