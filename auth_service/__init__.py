"""Users and sign-in; the only service that mints access tokens."""
