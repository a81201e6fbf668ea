import { enableAutoUnmount } from '@vue/test-utils'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { startSession } from '../src/session'
import { fakeToken, json, mockApi, notification, renderRoute, requestsMade, router } from './helpers'

enableAutoUnmount(afterEach)

beforeEach(() => startSession(fakeToken('me@example.com')))

describe('notification list', () => {
  it('marks the unread ones, visibly and for screen readers', async () => {
    mockApi({
      'GET /api/notification': () =>
        json(200, { items: [notification('n1', false), notification('n2', true)], next_cursor: null }),
    })

    const wrapper = await renderRoute('/notifications')

    const [unread, read] = wrapper.findAll('a.notification')
    expect(unread!.classes()).toContain('unread')
    expect(unread!.text()).toContain('Unread')
    expect(read!.classes()).not.toContain('unread')
    expect(read!.text()).not.toContain('Unread')
  })

  it('marks a notification read when opened and shows its post', async () => {
    const fetch = mockApi({
      'GET /api/notification': () => json(200, { items: [notification('n1', false)], next_cursor: null }),
      'POST /api/notification/n1/read': () => new Response(null, { status: 204 }),
      'GET /api/notification/unread-count': () => json(200, { count: 0 }),
      'GET /api/post/post-of-n1': () =>
        json(200, {
          ...notification('n1', true),
          id: 'post-of-n1',
          author_id: 'u2',
          text: 'the post',
          language: null,
          code: null,
        }),
    })
    const wrapper = await renderRoute('/notifications')

    await wrapper.get('a.notification').trigger('click')

    await vi.waitFor(() => expect(router.currentRoute.value.path).toBe('/posts/post-of-n1'))
    await vi.waitFor(() => expect(requestsMade(fetch)).toContain('GET /api/notification/unread-count'))
    expect(requestsMade(fetch)).toContain('POST /api/notification/n1/read')
    await vi.waitFor(() => expect(wrapper.text()).toContain('the post'))
  })
})
