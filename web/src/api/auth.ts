import { startSession } from '../session'
import { authApi } from './client'
import { settle, settleRetrying, type Problem } from './problem'
import type { Credentials } from '../components/CredentialsForm.vue'

/**
 * Signs in and keeps the token; returns why it failed, or null on success. Refused for now
 * (429: too many attempts), it tries again when allowed, telling `onWait` meanwhile.
 */
export async function signIn(
  credentials: Credentials,
  onWait?: (problem: Problem) => void,
): Promise<Problem | null> {
  const outcome = await settleRetrying(() => authApi.POST('/api/signin', { body: credentials }), onWait)
  if (!outcome.ok) return outcome.problem
  if (startSession(outcome.data.access_token)) return null
  return { status: 200, message: 'Signed in, but the token could not be read. Please try again.', fields: {} }
}

export async function signUp(credentials: Credentials): Promise<Problem | null> {
  const outcome = await settle(authApi.POST('/api/signup', { body: credentials }))
  return outcome.ok ? null : outcome.problem
}
