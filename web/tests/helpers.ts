import { flushPromises, mount } from '@vue/test-utils'
import { vi, type Mock } from 'vitest'
import { h } from 'vue'
import { RouterView } from 'vue-router'
import { router } from '../src/router'

type Handler = (request: Request) => Response | Promise<Response>

export function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } })
}

/**
 * Replaces fetch with a fake API keyed by "METHOD /path" (no query string).
 * A request nobody expected fails the test with a 599, so it cannot pass by accident.
 */
export function mockApi(routes: Record<string, Handler>): Mock<(request: Request) => Promise<Response>> {
  const fetch = vi.fn(async (request: Request) => {
    const handler = routes[`${request.method} ${new URL(request.url).pathname}`]
    return handler ? handler(request) : json(599, { detail: `unexpected ${request.method} ${request.url}` })
  })
  vi.stubGlobal('fetch', fetch)
  return fetch
}

/** The requests fetch was called with, as "METHOD /path?query". */
export function requestsMade(fetch: Mock<(request: Request) => Promise<Response>>): string[] {
  return fetch.mock.calls.map(([request]) => {
    const url = new URL(request.url)
    return `${request.method} ${url.pathname}${url.search}`
  })
}

/** An unsigned token with the claims the app reads; the browser never checks signatures. */
export function fakeToken(email: string, expiresInSeconds = 3600): string {
  const encode = (value: object) => {
    const utf8 = String.fromCharCode(...new TextEncoder().encode(JSON.stringify(value)))
    return btoa(utf8).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_')
  }
  const exp = Math.floor(Date.now() / 1000) + expiresInSeconds
  return `${encode({ alg: 'EdDSA', typ: 'JWT' })}.${encode({ sub: 'u1', email, exp })}.signature`
}

/** Opens `path` with the app's real router and renders the page it leads to (without the top bar). */
export async function renderRoute(path: string) {
  await router.push(path)
  const wrapper = mount(() => h(RouterView), { global: { plugins: [router] } })
  await flushPromises()
  return wrapper
}

export { router }
