import { enableAutoUnmount, flushPromises, mount } from '@vue/test-utils'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import App from '../src/App.vue'
import { describeProblem } from '../src/api/problem'
import { streamState } from '../src/composables/notificationStream'
import { endSession, signedInEmail, startSession } from '../src/session'
import { fakeStream, fakeToken, json, mockApi, renderRoute, requestsMade, router } from './helpers'

// Unmount (which closes the stream) before the real timers come back.
afterEach(() => vi.useRealTimers())
enableAutoUnmount(afterEach)

beforeEach(() => {
  localStorage.removeItem('soflite:poll')
  // Waits are counted on a fake clock; promises still run for real.
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] })
})

async function wait(ms = 0): Promise<void> {
  await vi.advanceTimersByTimeAsync(ms)
  await flushPromises()
}

/** A refusal with `Retry-After`: a limit's 429, or a busy replica's 503. */
function refused(detail: string, retryAfter: number, status = 429): Response {
  return new Response(JSON.stringify({ detail }), {
    status,
    headers: { 'Content-Type': 'application/json', 'Retry-After': String(retryAfter) },
  })
}

/** Answers each request with the next of `answers`, the last one from then on. */
function inTurn(...answers: (() => Response)[]): () => Response {
  let next = 0
  return () => answers[Math.min(next++, answers.length - 1)]!()
}

const POST = {
  id: 'p1',
  author_id: 'u1',
  author_email: 'me@example.com',
  text: 'hello',
  language: null,
  code: null,
  created_at: '2026-11-25T10:00:00Z',
}

/** Signed in on Home, "hello" written and posted; the post service answers with `answer`. */
async function postFromTheComposer(answer: (request: Request) => Response) {
  startSession(fakeToken('me@example.com'))
  const fetch = mockApi({
    'GET /api/post': () => json(200, { items: [], next_cursor: null }),
    'POST /api/post': answer,
  })
  const wrapper = await renderRoute('/')
  await wrapper.get('textarea').setValue('hello')
  await wrapper.get('form.composer').trigger('submit')
  return { fetch, wrapper }
}

function postsSent(fetch: Parameters<typeof requestsMade>[0]): string[] {
  return requestsMade(fetch).filter((r) => r === 'POST /api/post')
}

describe('a refusal by a limit (429)', () => {
  it('says why and when to try again', () => {
    expect(describeProblem(429, { detail: 'you are posting too fast' }, 6)).toEqual({
      status: 429,
      message: 'You are posting too fast. You can try again in 6 s.',
      fields: {},
      retryAfter: 6,
    })
    // The gateway's own 429 has no Retry-After: a short wait is assumed.
    expect(describeProblem(429, { detail: 'too many requests, try again shortly' }).retryAfter).toBe(5)
  })

  it('is shown by the composer, which posts when the service allows', async () => {
    const { fetch, wrapper } = await postFromTheComposer(
      inTurn(
        () => refused('you are posting too fast', 6),
        () => json(201, POST),
      ),
    )
    await wait()

    expect(wrapper.get('[role=alert]').text()).toBe(
      'You are posting too fast. You can try again in 6 s. It will be posted then.',
    )
    expect(wrapper.get('button[type=submit]').attributes('disabled')).toBeDefined()
    await wait(5_900)
    expect(postsSent(fetch)).toHaveLength(1)

    await wait(100)
    expect(postsSent(fetch)).toHaveLength(2)
    expect(wrapper.find('[role=alert]').exists()).toBe(false)
  })

  it('is shown by the sign-in form, which signs in when the account may again', async () => {
    endSession()
    mockApi({
      'POST /api/signin': inTurn(
        () => refused('too many failed sign-ins for this account', 30),
        () =>
          json(200, { access_token: fakeToken('ada@example.com'), token_type: 'bearer', expires_in: 3600 }),
      ),
      'GET /api/post': () => json(200, { items: [], next_cursor: null }),
    })
    const wrapper = await renderRoute('/signin')
    await wrapper.get('input[type=email]').setValue('ada@example.com')
    await wrapper.get('input[type=password]').setValue('correct horse')
    await wrapper.get('form').trigger('submit')
    await wait()

    expect(wrapper.get('[role=alert]').text()).toBe(
      'Too many failed sign-ins for this account. You can try again in 30 s. Signing in then.',
    )
    await wait(30_000)
    expect(signedInEmail.value).toBe('ada@example.com')
  })

  it('of a stream (too many open in other tabs) is retried after Retry-After', async () => {
    startSession(fakeToken('me@example.com'))
    const stream = fakeStream()
    const fetch = mockApi({
      'GET /api/notification/stream': inTurn(
        () => refused('you have 5 notification streams open already', 20),
        () => json(599, { detail: 'replaced below' }),
      ),
      'GET /api/notification/unread-count': () => json(200, { count: 0 }),
      'GET /api/post': () => json(200, { items: [], next_cursor: null }),
    })
    const streamed = () => requestsMade(fetch).filter((r) => r === 'GET /api/notification/stream')
    await router.push('/')
    mount(App, { global: { plugins: [router] } })
    await wait()
    expect(streamed()).toHaveLength(1)
    expect(streamState.value).toBe('down')

    fetch.mockImplementation(async (request: Request) =>
      new URL(request.url).pathname === '/api/notification/stream'
        ? stream.handler(request)
        : json(200, { count: 0, items: [], next_cursor: null }),
    )
    await wait(19_000)
    expect(streamed()).toHaveLength(1)
    await wait(1_000)
    expect(streamed()).toHaveLength(2)
    expect(streamState.value).toBe('open')
  })
})

describe('a busy replica (a 503 with Retry-After)', () => {
  it('says why and when to try again', () => {
    expect(describeProblem(503, { detail: 'the service is busy, try again shortly' }, 1)).toEqual({
      status: 503,
      message: 'The service is busy, try again shortly. You can try again in 1 s.',
      fields: {},
      retryAfter: 1,
    })
    // Other 503s (a store unavailable) have no Retry-After: they are retried as transient.
    expect(
      describeProblem(503, { detail: 'snippet storage unavailable, try again' }).retryAfter,
    ).toBeUndefined()
  })

  it('is shown by the composer, which posts when the service allows', async () => {
    const { fetch, wrapper } = await postFromTheComposer(
      inTurn(
        () => refused('the service is busy, try again shortly', 2, 503),
        () => json(201, POST),
      ),
    )
    await wait()

    expect(wrapper.get('[role=alert]').text()).toBe(
      'The service is busy, try again shortly. You can try again in 2 s. It will be posted then.',
    )
    await wait(1_900)
    expect(postsSent(fetch)).toHaveLength(1)

    await wait(100)
    expect(postsSent(fetch)).toHaveLength(2)
    expect(wrapper.find('[role=alert]').exists()).toBe(false)
  })
})

describe('a 502 or 503 (a replica went away)', () => {
  it('is tried again by the composer with the same Idempotency-Key, so a lost answer posts once', async () => {
    const keys: (string | null)[] = []
    const { fetch, wrapper } = await postFromTheComposer((request) => {
      keys.push(request.headers.get('Idempotency-Key'))
      return keys.length === 1
        ? json(502, { detail: 'the service is unavailable, try again' })
        : json(201, POST)
    })
    await wait()

    expect(wrapper.get('[role=alert]').text()).toBe(
      'The server did not answer; trying again in 1 s. It will be posted then.',
    )
    await wait(1_000)
    expect(postsSent(fetch)).toHaveLength(2)
    expect(keys[0]).toMatch(/^[A-Za-z0-9_-]{8,64}$/)
    expect(keys[1]).toBe(keys[0])
    expect(wrapper.find('[role=alert]').exists()).toBe(false)
  })

  it('is shown after two tries more', async () => {
    const { fetch, wrapper } = await postFromTheComposer(() =>
      json(503, { detail: 'snippet storage unavailable, try again' }),
    )
    await wait(3_000)

    expect(postsSent(fetch)).toHaveLength(3)
    expect(wrapper.get('[role=alert]').text()).toBe('snippet storage unavailable, try again')
  })
})
