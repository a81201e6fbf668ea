import { enableAutoUnmount, flushPromises, mount } from '@vue/test-utils'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import TopBar from '../src/components/TopBar.vue'
import { startSession } from '../src/session'
import { createMemoryHistory, createRouter } from 'vue-router'
import { fakeStream, fakeToken, json, mockApi } from './helpers'

enableAutoUnmount(afterEach)

// The bar alone: its links need a router, not the app's pages.
const router = createRouter({
  history: createMemoryHistory(),
  routes: [{ path: '/:anywhere(.*)*', component: { render: () => null } }],
})

beforeEach(() => startSession(fakeToken('me@example.com')))

async function badgeFor(count: number): Promise<string> {
  mockApi({
    'GET /api/notification/stream': fakeStream().handler,
    'GET /api/notification/unread-count': () => json(200, { count }),
  })
  const wrapper = mount(TopBar, { global: { plugins: [router] } })
  await flushPromises()
  return wrapper.find('.badge').exists() ? wrapper.find('.badge').text() : ''
}

describe('unread badge', () => {
  it('shows the count, and nothing at zero', async () => {
    expect(await badgeFor(3)).toBe('3 unread')
    expect(await badgeFor(0)).toBe('')
  })

  it('shows 99+ at the cap the service counts to', async () => {
    expect(await badgeFor(99)).toBe('99 unread')
    expect(await badgeFor(100)).toBe('99+ unread')
  })
})
