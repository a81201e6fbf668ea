import createClient, { type Middleware } from 'openapi-fetch'
import { router, signInFirst } from '../router'
import { accessToken, endSession } from '../session'
import type { paths as AuthPaths } from './generated/auth'
import type { paths as NotificationPaths } from './generated/notification'
import type { paths as PostPaths } from './generated/post'

/**
 * What any 401 means (except from sign-in itself): the session is gone (expired or
 * revoked), so end it and start over at the sign-in page.
 */
export async function signInAgain(): Promise<void> {
  endSession()
  // During the first navigation its own guard now sends the visitor to sign-in.
  await router.isReady()
  const { meta, fullPath } = router.currentRoute.value
  if (!meta.public) await router.push(signInFirst(fullPath))
}

const bearerToken: Middleware = {
  onRequest({ request }) {
    const token = accessToken()
    if (token) request.headers.set('Authorization', `Bearer ${token}`)
    return request
  },
  async onResponse({ response, schemaPath }) {
    // A wrong password is the sign-in form's business.
    if (response.status === 401 && schemaPath !== '/api/signin') await signInAgain()
    return response
  },
}

function serviceClient<Paths extends object>() {
  const client = createClient<Paths>({
    baseUrl: window.location.origin,
    // Looked up on every call rather than captured once, so tests can stub it.
    fetch: (request) => globalThis.fetch(request),
  })
  client.use(bearerToken)
  return client
}

export const authApi = serviceClient<AuthPaths>()
export const postApi = serviceClient<PostPaths>()
export const notificationApi = serviceClient<NotificationPaths>()
