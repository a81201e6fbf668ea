import { shallowReactive } from 'vue'
import type { Outcome, Problem } from '../api/problem'

/** One page of a cursor-paginated list, as every list endpoint returns it. */
export interface Page<T> {
  items: T[]
  next_cursor: string | null
}

export interface CursorList<T> {
  items: T[]
  nextCursor: string | null
  loading: boolean
  /** True once the first page has arrived. */
  loaded: boolean
  problem: Problem | null
  /** Loads the first page, or the next one once the first is there. */
  loadNext: () => Promise<void>
}

/** A list that grows page by page, following the API's `next_cursor`. */
export function useCursorList<T>(
  fetchPage: (cursor: string | null) => Promise<Outcome<Page<T>>>,
): CursorList<T> {
  const list: CursorList<T> = shallowReactive({
    items: [],
    nextCursor: null,
    loading: false,
    loaded: false,
    problem: null,
    loadNext,
  })

  async function loadNext(): Promise<void> {
    if (list.loading) return
    list.loading = true
    list.problem = null
    const outcome = await fetchPage(list.loaded ? list.nextCursor : null)
    list.loading = false
    if (!outcome.ok) {
      list.problem = outcome.problem
      return
    }
    list.items = [...list.items, ...outcome.data.items]
    list.nextCursor = outcome.data.next_cursor
    list.loaded = true
  }

  return list
}
