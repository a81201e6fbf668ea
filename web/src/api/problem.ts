/** Why a request failed, worded for the person using the app. */
export interface Problem {
  /** HTTP status, or 0 when the server could not be reached. */
  status: number
  message: string
  /** Messages for single fields (by field name), from FastAPI's 422 validation errors. */
  fields: Record<string, string>
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

export function describeProblem(status: number, body: unknown): Problem {
  const detail = typeof body === 'object' && body !== null ? (body as { detail?: unknown }).detail : undefined
  if (status === 429) {
    return { status, message: 'Too many attempts. Please wait a moment and try again.', fields: {} }
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
    return { ok: false, problem: describeProblem(response.status, error) }
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
