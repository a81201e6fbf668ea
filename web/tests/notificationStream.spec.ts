import { enableAutoUnmount, flushPromises, mount } from '@vue/test-utils'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import App from '../src/App.vue'
import type { Notification } from '../src/api/types'
import { streamState } from '../src/composables/notificationStream'
import { unreadCount } from '../src/composables/unreadCount'
import { endSession, isSignedIn, startSession } from '../src/session'
import { fakeStream, fakeToken, json, mockApi, notification, requestsMade, router } from './helpers'

// Unmount (which closes the stream) before the real timers come back.
afterEach(() => vi.useRealTimers())
enableAutoUnmount(afterEach)

const token = fakeToken('me@example.com')
const STREAM = 'GET /api/notification/stream'
const COUNT = 'GET /api/notification/unread-count'

beforeEach(() => {
  startSession(token)
  unreadCount.value = 0
  localStorage.removeItem('soflite:poll')
  // Reconnect delays and polls are counted on a fake clock; promises still run for real.
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] })
})

/** Lets `ms` pass on the fake clock, then lets every pending promise settle. */
async function wait(ms = 0): Promise<void> {
  await vi.advanceTimersByTimeAsync(ms)
  await flushPromises()
}

/** The whole app at `path`, top bar included. */
async function renderApp(path: string) {
  await router.push(path)
  const wrapper = mount(App, { global: { plugins: [router] } })
  await wait()
  return wrapper
}

/**
 * A fake notification service: the stream (up, or answering `down` with that status), the
 * unread count and the first page of the list, all changeable by the test.
 */
function fakeService(state: { count: number; list: Notification[]; down?: number }) {
  const stream = fakeStream()
  const fetch = mockApi({
    [STREAM]: (request) => (state.down ? json(state.down, { detail: 'not now' }) : stream.handler(request)),
    [COUNT]: () => json(200, { count: state.count }),
    'GET /api/notification': () => json(200, { items: state.list, next_cursor: null }),
    'GET /api/post': () => json(200, { items: [], next_cursor: null }),
  })
  const made = (route: string) => requestsMade(fetch).filter((r) => r.split('?')[0] === route).length
  return { connections: stream.connections, made }
}

function badge(wrapper: Awaited<ReturnType<typeof renderApp>>): string {
  const found = wrapper.find('.badge')
  return found.exists() ? found.text() : ''
}

function listed(wrapper: Awaited<ReturnType<typeof renderApp>>): string[] {
  return wrapper.findAll('a.notification .preview').map((preview) => preview.text())
}

describe('notification stream', () => {
  it('opens one stream when signed in, with the token in a header and never in the URL', async () => {
    const service = fakeService({ count: 2, list: [] })

    const wrapper = await renderApp('/')

    expect(service.connections).toHaveLength(1)
    const { request } = service.connections[0]!
    expect(request.url).toBe(`${window.location.origin}/api/notification/stream`)
    expect(request.headers.get('Authorization')).toBe(`Bearer ${token}`)
    expect(request.headers.get('Accept')).toBe('text/event-stream')
    expect(request.headers.get('Last-Event-ID')).toBeNull()
    expect(streamState.value).toBe('open')
    expect(badge(wrapper)).toBe('2 unread')
  })

  it('counts each pushed notification once and puts it on top of the list once', async () => {
    const state = { count: 0, list: [notification('n0', true)] }
    const service = fakeService(state)
    const wrapper = await renderApp('/notifications')
    const [first] = service.connections

    state.count = 1
    state.list = [notification('n1'), notification('n0', true)]
    first!.send(notification('n1'), 7)
    await wait()
    expect(badge(wrapper)).toBe('1 unread')
    expect(listed(wrapper)).toEqual(['preview of n1', 'preview of n0'])

    first!.send(notification('n1'), 7)
    await wait()
    expect(badge(wrapper)).toBe('1 unread')
    expect(listed(wrapper)).toEqual(['preview of n1', 'preview of n0'])

    // The server ends the stream; the client comes back where it left off. Replayed: n1 again,
    // and n2, missed meanwhile but already read in another tab, so not one more unread.
    first!.end()
    await wait(30_000)
    const second = service.connections[1]!
    expect(second.request.headers.get('Last-Event-ID')).toBe('7')
    second.send(notification('n1'), 7)
    second.send(notification('n2', true), 8)
    await wait()
    expect(badge(wrapper)).toBe('1 unread')
    expect(listed(wrapper)).toEqual(['preview of n2', 'preview of n1', 'preview of n0'])
  })

  it('keeps the 99+ cap when a notification arrives', async () => {
    const service = fakeService({ count: 99, list: [] })
    const wrapper = await renderApp('/')

    service.connections[0]!.send(notification('n1'), 1)
    await wait()
    expect(badge(wrapper)).toBe('99+ unread')
    service.connections[0]!.send(notification('n2'), 2)
    await wait()
    expect(unreadCount.value).toBe(100)
  })

  it('catches up on every reopen: the count, and the list merged by id', async () => {
    const state = { count: 1, list: [notification('n1')] }
    const service = fakeService(state)
    const wrapper = await renderApp('/notifications')
    expect(service.made(COUNT)).toBe(1)

    service.connections[0]!.end()
    // n2 arrived while the stream was down, and n1 was read in another tab.
    state.list = [notification('n2'), notification('n1', true)]
    state.count = 1
    await wait(30_000)

    expect(service.connections).toHaveLength(2)
    expect(service.made(COUNT)).toBe(2)
    expect(badge(wrapper)).toBe('1 unread')
    expect(listed(wrapper)).toEqual(['preview of n2', 'preview of n1'])
    expect(wrapper.findAll('a.notification.unread')).toHaveLength(1)
  })

  it('reconnects after growing delays, and starts over from 1 s once a stream opened', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(1) // the longest delay of each step
    const state = { count: 0, list: [], down: 503 }
    const service = fakeService(state)
    await renderApp('/')
    expect(service.made(STREAM)).toBe(1)

    for (const delay of [1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]) {
      const before = service.made(STREAM)
      await wait(delay - 1)
      expect(service.made(STREAM)).toBe(before)
      await wait(1)
      expect(service.made(STREAM)).toBe(before + 1)
    }
    expect(streamState.value).toBe('down')

    state.down = 0
    await wait(30_000)
    expect(streamState.value).toBe('open')
    const opened = service.made(STREAM)

    service.connections.at(-1)!.end()
    await wait(999)
    expect(service.made(STREAM)).toBe(opened)
    await wait(1)
    expect(service.made(STREAM)).toBe(opened + 1)
  })

  it('spreads the delays: each is between half and all of its step', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0)
    const service = fakeService({ count: 0, list: [], down: 503 })
    await renderApp('/')

    await wait(499)
    expect(service.made(STREAM)).toBe(1)
    await wait(1)
    expect(service.made(STREAM)).toBe(2)
  })

  it('polls the count every 30 s while the stream is down, and never while it is open', async () => {
    const state = { count: 0, list: [], down: 502 }
    const service = fakeService(state)
    await renderApp('/')
    expect(service.made(COUNT)).toBe(0)

    await wait(30_000)
    expect(service.made(COUNT)).toBe(1)
    await wait(30_000)
    expect(service.made(COUNT)).toBe(2)

    state.down = 0
    await wait(30_000) // the next reconnect opens, and resyncs once
    expect(streamState.value).toBe('open')
    const afterOpen = service.made(COUNT)
    await wait(10 * 60_000)
    expect(service.made(COUNT)).toBe(afterOpen)
  })

  it('never polls when soflite:poll is off, yet still pushes and resyncs on open', async () => {
    localStorage.setItem('soflite:poll', 'off')
    const state = { count: 3, list: [], down: 502 }
    const service = fakeService(state)
    const wrapper = await renderApp('/')

    await wait(10 * 60_000)
    expect(service.made(COUNT)).toBe(0)

    state.down = 0
    await wait(30_000)
    expect(service.made(COUNT)).toBe(1)
    service.connections[0]!.send(notification('n1'), 1)
    await wait()
    expect(badge(wrapper)).toBe('4 unread')
    await wait(10 * 60_000)
    expect(service.made(COUNT)).toBe(1)
  })

  it('ends the session on a 401 and stops reconnecting', async () => {
    const service = fakeService({ count: 0, list: [], down: 401 })
    const wrapper = await renderApp('/')

    expect(isSignedIn()).toBe(false)
    await vi.waitFor(() => expect(router.currentRoute.value.path).toBe('/signin'))
    expect(wrapper.find('.top-bar').exists()).toBe(false)
    await wait(10 * 60_000)
    expect(service.made(STREAM)).toBe(1)
    expect(service.made(COUNT)).toBe(0)
    expect(streamState.value).toBe('closed')
  })

  it('closes the stream at sign-out and opens a new one at sign-in', async () => {
    const service = fakeService({ count: 0, list: [] })
    await renderApp('/')

    endSession()
    await wait()
    expect(service.connections[0]!.request.signal.aborted).toBe(true)
    expect(streamState.value).toBe('closed')
    await wait(10 * 60_000)
    expect(service.made(STREAM)).toBe(1)

    startSession(token)
    await wait()
    expect(service.made(STREAM)).toBe(2)
    expect(service.connections[1]!.request.headers.get('Last-Event-ID')).toBeNull()
    expect(streamState.value).toBe('open')
  })
})
