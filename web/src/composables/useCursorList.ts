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
  /** Puts an item that has just arrived on top, unless the list has it already. */
  prepend: (item: T) => void
  /** Fetches the first page again and merges it in by id, for items that arrived unseen. */
  refresh: () => Promise<void>
}

/** A list that grows page by page, following the API's `next_cursor`. */
export function useCursorList<T extends { id: string }>(
  fetchPage: (cursor: string | null) => Promise<Outcome<Page<T>>>,
): CursorList<T> {
  const list: CursorList<T> = shallowReactive({
    items: [],
    nextCursor: null,
    loading: false,
    loaded: false,
    problem: null,
    loadNext,
    prepend,
    refresh,
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
    // Without what prepend() may have put there meanwhile.
    list.items = [...list.items, ...withoutIds(outcome.data.items, list.items)]
    list.nextCursor = outcome.data.next_cursor
    list.loaded = true
  }

  function prepend(item: T): void {
    if (!list.items.some((existing) => existing.id === item.id)) list.items = [item, ...list.items]
  }

  async function refresh(): Promise<void> {
    if (!list.loaded) return // the first page, on its way, brings the news
    const outcome = await fetchPage(null)
    if (!outcome.ok) return // a background resync: keep the list as it is
    const fresh = outcome.data.items
    const older = withoutIds(list.items, fresh)
    if (outcome.data.next_cursor && older.length === list.items.length) {
      // More arrived than a page holds: start again from this page rather than leave a gap.
      list.items = fresh
      list.nextCursor = outcome.data.next_cursor
    } else {
      list.items = [...fresh, ...older]
    }
  }

  return list
}

/** `items` without those whose id is among `others`. */
function withoutIds<T extends { id: string }>(items: T[], others: T[]): T[] {
  const ids = new Set(others.map((other) => other.id))
  return items.filter((item) => !ids.has(item.id))
}
