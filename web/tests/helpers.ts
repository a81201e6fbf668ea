import { flushPromises, mount } from '@vue/test-utils'
import { vi, type Mock } from 'vitest'
import { h } from 'vue'
import { RouterView } from 'vue-router'
import type { Notification } from '../src/api/types'
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

export function notification(id: string, read = false): Notification {
  return {
    id,
    post_id: `post-of-${id}`,
    author_email: 'ada@example.com',
    preview: `preview of ${id}`,
    created_at: '2026-11-25T10:00:00Z',
    read,
  }
}

/** One request to the fake `GET /api/notification/stream`, which the test writes to. */
export interface StreamConnection {
  request: Request
  /** Sends one `notification` event with this `id`. */
  send: (notification: Notification, id: number) => void
  /** The server ends the stream. */
  end: () => void
}

/**
 * A fake `GET /api/notification/stream` for mockApi: `handler` answers each request with an open
 * event stream and keeps it in `connections` for the test to write to.
 */
export function fakeStream() {
  const connections: StreamConnection[] = []
  const encoder = new TextEncoder()
  function handler(request: Request): Response {
    let stream!: ReadableStreamDefaultController<Uint8Array>
    const body = new ReadableStream<Uint8Array>({ start: (controller) => void (stream = controller) })
    // As a real fetch does: the client aborting ends the body it is reading.
    request.signal.addEventListener('abort', () => stream.error(request.signal.reason))
    const write = (text: string) => stream.enqueue(encoder.encode(text))
    connections.push({
      request,
      send: (notification, id) =>
        write(`event: notification\nid: ${id}\ndata: ${JSON.stringify(notification)}\n\n`),
      end: () => stream.close(),
    })
    write(': ping\n\n')
    return new Response(body, { headers: { 'Content-Type': 'text/event-stream' } })
  }
  return { connections, handler }
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
