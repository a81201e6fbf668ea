import { enableAutoUnmount } from '@vue/test-utils'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { PostSummary } from '../src/api/types'
import { startSession } from '../src/session'
import { fakeToken, json, mockApi, renderRoute, requestsMade } from './helpers'

enableAutoUnmount(afterEach)

beforeEach(() => startSession(fakeToken('me@example.com')))

function summary(id: string, fields: Partial<PostSummary> = {}): PostSummary {
  return {
    id,
    author_id: `author-${id}`,
    author_email: `${id}@example.com`,
    text: `text of ${id}`,
    language: null,
    has_code: false,
    code_preview: null,
    created_at: '2026-11-25T10:00:00Z',
    ...fields,
  }
}

describe('feed', () => {
  it('shows author, text and code preview as plain text', async () => {
    const hostile = '<img src=x onerror=alert(1)>'
    mockApi({
      'GET /api/post': () =>
        json(200, {
          items: [
            summary('p1', {
              text: hostile,
              has_code: true,
              language: 'python',
              code_preview: 'print("<b>hi</b>")',
            }),
          ],
          next_cursor: null,
        }),
    })

    const wrapper = await renderRoute('/')

    const item = wrapper.get('article')
    expect(item.text()).toContain('p1@example.com')
    expect(item.get('.post-text').text()).toBe(hostile)
    expect(item.get('code').text()).toBe('print("<b>hi</b>")')
    expect(item.find('img').exists()).toBe(false)
    expect(item.find('code b').exists()).toBe(false)
    expect(item.get('code').classes()).toContain('language-python')
    expect(item.get('a[href="/posts/p1"]').text()).toContain('View post')
  })

  it('says so when there are no posts yet', async () => {
    mockApi({ 'GET /api/post': () => json(200, { items: [], next_cursor: null }) })

    const wrapper = await renderRoute('/')

    expect(wrapper.text()).toContain('No posts yet')
    expect(wrapper.find('article').exists()).toBe(false)
    expect(wrapper.find('button.secondary').exists()).toBe(false)
  })

  it('loads more with the cursor and appends the next page', async () => {
    const fetch = mockApi({
      'GET /api/post': (request) =>
        new URL(request.url).searchParams.get('cursor') === 'c1'
          ? json(200, { items: [summary('p2')], next_cursor: null })
          : json(200, { items: [summary('p1')], next_cursor: 'c1' }),
    })
    const wrapper = await renderRoute('/')
    expect(wrapper.findAll('article')).toHaveLength(1)

    await wrapper.get('button.secondary').trigger('click')
    await new Promise((resolve) => setTimeout(resolve))

    expect(requestsMade(fetch)).toEqual(['GET /api/post?limit=20', 'GET /api/post?limit=20&cursor=c1'])
    expect(wrapper.findAll('article').map((a) => a.get('.post-text').text())).toEqual([
      'text of p1',
      'text of p2',
    ])
    expect(wrapper.text()).not.toContain('Load more')
  })
})
