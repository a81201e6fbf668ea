/** Why a request failed, worded for the person using the app. */
export interface Problem {
  /** HTTP status, or 0 when the server could not be reached. */
  status: number
  message: string
  /** Messages for single fields (by field name), from FastAPI's 422 validation errors. */
  fields: Record<string, string>
  /** Seconds to wait before trying again, from the `Retry-After` of a 429 or a busy 503. */
  retryAfter?: number
}

export type Outcome<T> = { ok: true; data: T } | { ok: false; problem: Problem }

interface ValidationIssue {
  loc: (string | number)[]
  msg: string
}

function isValidationIssues(detail: unknown): detail is ValidationIssue[] {
  return (
    Array.isArray(detail) && detail.every((item) => typeof item?.msg === 'string' && Array.isArray(item?.loc))
  )
}

/** A wait a 429 asks for, else 5 s (the gateway's own 429 sends no `Retry-After`). */
const DEFAULT_RETRY_AFTER_S = 5
/** Waits up to this long are waited out and the request sent again; longer ones are only shown. */
export const MAX_AUTO_RETRY_S = 60

/** `Retry-After` in seconds (the services send whole seconds), or undefined. */
export function retryAfterSeconds(header: string | null): number | undefined {
  const seconds = Number(header ?? undefined)
  return Number.isInteger(seconds) && seconds >= 0 ? seconds : undefined
}

function sentence(text: string): string {
  const trimmed = text.trim()
  const capital = trimmed.charAt(0).toUpperCase() + trimmed.slice(1)
  return /[.!?]$/.test(capital) ? capital : `${capital}.`
}

/**
 * A 429, or a 503 with a `Retry-After` (a replica shedding load; other 503s have none), says
 * why and when to try again, and carries the wait in `retryAfter`.
 */
export function describeProblem(status: number, body: unknown, retryAfter?: number): Problem {
  const detail = typeof body === 'object' && body !== null ? (body as { detail?: unknown }).detail : undefined
  const busy = status === 503 && retryAfter !== undefined
  if (status === 429 || busy) {
    const wait = retryAfter ?? DEFAULT_RETRY_AFTER_S
    const fallback = busy ? 'The server is busy.' : 'Too many attempts.'
    const why = typeof detail === 'string' && detail ? sentence(detail) : fallback
    return { status, message: `${why} You can try again in ${wait} s.`, fields: {}, retryAfter: wait }
  }
  if (typeof detail === 'string') return { status, message: detail, fields: {} }
  if (isValidationIssues(detail)) {
    const fields: Record<string, string> = {}
    for (const { loc, msg } of detail) {
      const field = loc.at(-1)
      if (typeof field === 'string') fields[field] ??= msg
    }
    return { status, message: detail.map((issue) => issue.msg).join('. '), fields }
  }
  if (status === 413) return { status, message: 'That is too large to send.', fields: {} }
  return { status, message: `Something went wrong (HTTP ${status}). Please try again.`, fields: {} }
}

/**
 * Settles an openapi-fetch call into data or a Problem, so views handle every
 * failure (HTTP errors and an unreachable server alike) in one place.
 */
export async function settle<T>(
  call: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<Outcome<T>> {
  try {
    const { data, error, response } = await call
    if (response.ok) return { ok: true, data: data as T }
    const retryAfter = retryAfterSeconds(response.headers.get('Retry-After'))
    return { ok: false, problem: describeProblem(response.status, error, retryAfter) }
  } catch {
    return {
      ok: false,
      problem: {
        status: 0,
        message: 'Could not reach the server. Check your connection and try again.',
        fields: {},
      },
    }
  }
}

/**
 * A 502 or 503 (a replica went away, a store is restarting) or no answer: worth one more try.
 * (A busy 503 has a `Retry-After`, so it is waited out instead, like a 429.)
 */
function isTransient(status: number): boolean {
  return status === 0 || status === 502 || status === 503
}

/** Tries again after a transient failure at most this many times, waiting 1 s, then 2 s. */
export const TRANSIENT_RETRIES = 2

/**
 * Like `settle`, but made again where that is safe, which `call` promises (it makes a new
 * request each time, and sending it twice does no harm: a read mark, a sign-in, a post with its
 * Idempotency-Key):
 * - a 429, or a busy 503 (one with a `Retry-After`), that asks for a wait of at most
 *   `MAX_AUTO_RETRY_S` is waited out (neither stored anything);
 * - a 502, another 503 or no answer is tried again `TRANSIENT_RETRIES` times, after 1 s, then 2 s.
 * `onWait` hears each such failure first, so the view can show its message while it waits.
 */
export async function settleRetrying<T>(
  call: () => Promise<{ data?: T; error?: unknown; response: Response }>,
  onWait: (problem: Problem) => void = () => {},
): Promise<Outcome<T>> {
  for (let transient = 0; ;) {
    const outcome = await settle(call())
    if (outcome.ok) return outcome
    let wait = outcome.problem.retryAfter
    if (wait === undefined && isTransient(outcome.problem.status) && transient < TRANSIENT_RETRIES) {
      wait = 2 ** transient++
      onWait({ ...outcome.problem, message: `The server did not answer; trying again in ${wait} s.` })
    } else if (wait === undefined || wait > MAX_AUTO_RETRY_S) {
      return outcome
    } else {
      onWait(outcome.problem)
    }
    await new Promise((resolve) => setTimeout(resolve, wait * 1000))
  }
}
