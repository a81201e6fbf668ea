import { startSession } from '../session'
import { authApi } from './client'
import { settle, type Problem } from './problem'
import type { Credentials } from '../components/CredentialsForm.vue'

/** Signs in and keeps the token; returns why it failed, or null on success. */
export async function signIn(credentials: Credentials): Promise<Problem | null> {
  const outcome = await settle(authApi.POST('/api/signin', { body: credentials }))
  if (!outcome.ok) return outcome.problem
  if (startSession(outcome.data.access_token)) return null
  return { status: 200, message: 'Signed in, but the token could not be read. Please try again.', fields: {} }
}

export async function signUp(credentials: Credentials): Promise<Problem | null> {
  const outcome = await settle(authApi.POST('/api/signup', { body: credentials }))
  return outcome.ok ? null : outcome.problem
}
