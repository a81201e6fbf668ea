import { fetchEventSource, type EventSourceMessage } from '@microsoft/fetch-event-source'
import { onMounted, onUnmounted, readonly, ref } from 'vue'
import { signInAgain } from '../api/client'
import { retryAfterSeconds } from '../api/problem'
import type { Notification } from '../api/types'
import { accessToken } from '../session'
import { countArrival, refreshUnreadCount } from './unreadCount'

const STREAM_PATH = '/api/notification/stream'
const RETRY_FIRST_MS = 1_000
const RETRY_MAX_MS = 30_000
const FALLBACK_POLL_MS = 30_000
/** `localStorage.setItem('soflite:poll', 'off')` turns off every periodic poll (browser tests). */
const POLL_SWITCH = 'soflite:poll'

/**
 * `connecting` until the first open; `down` from a failure or a dropped stream until the next
 * open (the fallback poll runs only then); `closed` when signed out.
 */
export type StreamState = 'closed' | 'connecting' | 'open' | 'down'

export interface StreamListener {
  /** A notification this tab has not had from the stream before. */
  notification?: (notification: Notification) => void
  /** The stream (re)opened: whatever arrived while it was down may be missing. */
  open?: () => void
}

const state = ref<StreamState>('closed')
/** Where this tab's stream stands. */
export const streamState = readonly(state)

const listeners = new Set<StreamListener>()
/** Ids already handled: after a reconnect the server may send an event again. */
const seen = new Set<string>()
let connection: AbortController | null = null
let failures = 0
let fallbackPoll: ReturnType<typeof setInterval> | undefined

/** The service refused the token: reconnecting cannot help. */
class SessionRefused extends Error {}

/** This user holds as many streams as the service allows (other tabs): retry when it says. */
class TooManyStreams extends Error {
  constructor(readonly retryAfterMs: number) {
    super('too many streams open')
  }
}

/**
 * Keeps this tab's stream of pushed notifications open from the calling component's mount
 * (the top bar, shown while signed in) until its unmount (sign-out).
 */
export function useNotificationStream(): void {
  onMounted(openStream)
  onUnmounted(closeStream)
}

/** Hears of pushed notifications and of every (re)open while the calling component is mounted. */
export function onNotificationStream(listener: StreamListener): void {
  listeners.add(listener)
  onUnmounted(() => listeners.delete(listener))
}

function openStream(): void {
  closeStream()
  const controller = new AbortController()
  connection = controller
  setState('connecting')
  fetchEventSource(window.location.origin + STREAM_PATH, {
    signal: controller.signal,
    fetch: fetchWithToken,
    // Stay connected in a hidden tab (see README); the library would otherwise close and reopen.
    openWhenHidden: true,
    async onopen(response) {
      if (response.status === 401) throw new SessionRefused()
      if (response.status === 429) {
        const seconds = retryAfterSeconds(response.headers.get('Retry-After')) ?? RETRY_MAX_MS / 1000
        throw new TooManyStreams(seconds * 1000)
      }
      if (!response.ok || !response.headers.get('Content-Type')?.startsWith('text/event-stream')) {
        throw new Error(`the stream answered ${response.status}`)
      }
      failures = 0
      setState('open')
      // Resync: replay after Last-Event-ID is the server's best effort, not a promise.
      void refreshUnreadCount()
      for (const listener of listeners) listener.open?.()
    },
    onmessage: receive,
    onclose() {
      throw new Error('the server ended the stream') // retried like any other failure
    },
    onerror(error) {
      if (error instanceof SessionRefused) {
        closeStream()
        void signInAgain()
        throw error // stops fetch-event-source's retries
      }
      setState('down') // the fallback poll keeps the badge current meanwhile
      if (error instanceof TooManyStreams) return error.retryAfterMs
      return retryDelay(failures++)
    },
  }).catch(() => {
    // Rejects only with SessionRefused, handled above.
  })
}

function closeStream(): void {
  connection?.abort()
  connection = null
  failures = 0
  seen.clear()
  setState('closed')
}

/**
 * The token of the moment on every attempt, in a header: never in the URL, where it would land
 * in the gateway's access log. `fetch` is looked up per call, as in the API clients, for tests.
 */
function fetchWithToken(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
  const request = new Request(input, init)
  const token = accessToken()
  if (token) request.headers.set('Authorization', `Bearer ${token}`)
  return globalThis.fetch(request)
}

function receive(message: EventSourceMessage): void {
  if (message.event !== 'notification') return
  // The list endpoint's Notification, as the contract says. Malformed data throws, which
  // fetch-event-source treats as a dropped stream: reconnect after it, and resync.
  const notification = JSON.parse(message.data) as Notification
  if (seen.has(notification.id)) return
  seen.add(notification.id)
  if (!notification.read) countArrival()
  for (const listener of listeners) listener.notification?.(notification)
}

/** Doubling steps up to a ceiling, half of each step random so that tabs dropped together spread out. */
function retryDelay(attempt: number): number {
  const step = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** attempt)
  return step / 2 + (Math.random() * step) / 2
}

function setState(next: StreamState): void {
  state.value = next
  if (next !== 'down') {
    clearInterval(fallbackPoll)
    fallbackPoll = undefined
  } else if (fallbackPoll === undefined && localStorage.getItem(POLL_SWITCH) !== 'off') {
    fallbackPoll = setInterval(refreshUnreadCount, FALLBACK_POLL_MS)
  }
}
