import { describe, expect, it } from 'vitest'
import type { Outcome } from '../src/api/problem'
import { useCursorList, type Page } from '../src/composables/useCursorList'

type Item = { id: string }

/** A list whose server answers each first-page request with the next of `firstPages`. */
function listServedBy(...firstPages: Page<Item>[]) {
  return useCursorList<Item>(async (cursor): Promise<Outcome<Page<Item>>> => {
    if (cursor) return { ok: true, data: { items: [{ id: 'old' }], next_cursor: null } }
    return { ok: true, data: firstPages.shift()! }
  })
}

const ids = (list: { items: Item[] }) => list.items.map((item) => item.id)

describe('cursor list', () => {
  it('takes an item pushed before its first page arrived only once', async () => {
    const list = listServedBy({ items: [{ id: 'b' }, { id: 'a' }], next_cursor: null })
    const loading = list.loadNext()
    list.prepend({ id: 'b' })
    await loading
    list.prepend({ id: 'a' })

    expect(ids(list)).toEqual(['b', 'a'])
  })

  it('merges a refreshed first page by id, newest on top', async () => {
    const list = listServedBy(
      { items: [{ id: 'b' }, { id: 'a' }], next_cursor: 'c1' },
      { items: [{ id: 'd' }, { id: 'c' }, { id: 'b' }], next_cursor: 'c2' },
    )
    await list.loadNext()
    await list.refresh()

    expect(ids(list)).toEqual(['d', 'c', 'b', 'a'])
    expect(list.nextCursor).toBe('c1')
  })

  it('starts over from the refreshed page when more arrived than a page holds', async () => {
    const list = listServedBy(
      { items: [{ id: 'b' }, { id: 'a' }], next_cursor: null },
      { items: [{ id: 'f' }, { id: 'e' }], next_cursor: 'c2' },
    )
    await list.loadNext()
    await list.refresh()

    expect(ids(list)).toEqual(['f', 'e'])
    await list.loadNext()
    expect(ids(list)).toEqual(['f', 'e', 'old'])
  })
})
