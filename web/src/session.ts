import { computed, ref } from 'vue'

/** The signed-in user's access token, with the claims the UI needs. */
interface Session {
  token: string
  email: string
  /** Milliseconds since the epoch, from the token's `exp` claim. */
  expiresAt: number
}

const STORAGE_KEY = 'sol.token'

/**
 * Reads the JWT payload. The browser never checks the signature: the services do
 * that on every request; here the claims only say whom to greet and when to stop.
 */
function readToken(token: string): Session | null {
  const payload = token.split('.')[1]
  if (!payload) return null
  try {
    const binary = atob(payload.replace(/-/g, '+').replace(/_/g, '/'))
    const bytes = Uint8Array.from(binary, (char) => char.charCodeAt(0))
    const claims: unknown = JSON.parse(new TextDecoder().decode(bytes))
    if (typeof claims !== 'object' || claims === null) return null
    const { email, exp } = claims as Record<string, unknown>
    if (typeof email !== 'string' || typeof exp !== 'number') return null
    return { token, email, expiresAt: exp * 1000 }
  } catch {
    return null
  }
}

function load(): Session | null {
  const token = localStorage.getItem(STORAGE_KEY)
  return token ? readToken(token) : null
}

const current = ref<Session | null>(load())

// Signing in or out in another tab applies here too.
window.addEventListener('storage', (event) => {
  if (event.key === STORAGE_KEY) current.value = load()
})

/** The session if there is one that has not expired; an expired one is dropped. */
function live(): Session | null {
  if (current.value && current.value.expiresAt <= Date.now()) endSession()
  return current.value
}

export const signedInEmail = computed(() => current.value?.email ?? null)

export function accessToken(): string | null {
  return live()?.token ?? null
}

export function isSignedIn(): boolean {
  return live() !== null
}

/** Keeps a token from a successful sign-in; returns false if it cannot be read. */
export function startSession(token: string): boolean {
  const session = readToken(token)
  if (!session) return false
  localStorage.setItem(STORAGE_KEY, token)
  current.value = session
  return true
}

export function endSession(): void {
  localStorage.removeItem(STORAGE_KEY)
  current.value = null
}
