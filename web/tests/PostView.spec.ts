import { enableAutoUnmount, flushPromises } from '@vue/test-utils'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { startSession } from '../src/session'
import { fakeToken, json, mockApi, renderRoute } from './helpers'

enableAutoUnmount(afterEach)

beforeEach(() => startSession(fakeToken('me@example.com')))

const post = {
  id: 'p1',
  author_id: 'u2',
  author_email: 'grace@example.com',
  text: 'Reversing in place',
  language: 'python',
  code: 'xs.reverse()\nprint(xs)',
  created_at: '2026-11-25T10:00:00Z',
}

describe('post page', () => {
  it('shows the full snippet highlighted and copies it', async () => {
    mockApi({ 'GET /api/post/p1': () => json(200, post) })
    const writeText = vi.fn<Clipboard['writeText']>(async () => {})
    Object.defineProperty(navigator, 'clipboard', { value: { writeText }, configurable: true })
    const wrapper = await renderRoute('/posts/p1')

    expect(wrapper.get('code').text()).toBe(post.code)
    expect(wrapper.find('code span.hljs-built_in').exists()).toBe(true)

    await wrapper.get('button').trigger('click')
    await flushPromises()

    expect(writeText).toHaveBeenCalledWith(post.code)
    expect(wrapper.get('[role=status]').text()).toBe('Copied')
  })

  it('says when the post does not exist', async () => {
    mockApi({ 'GET /api/post/nope': () => json(404, { detail: 'post not found' }) })

    const wrapper = await renderRoute('/posts/nope')

    expect(wrapper.get('[role=alert]').text()).toBe('post not found')
  })
})
