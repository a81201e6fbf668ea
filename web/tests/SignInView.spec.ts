import { enableAutoUnmount, flushPromises } from '@vue/test-utils'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { endSession, signedInEmail } from '../src/session'
import { fakeToken, json, mockApi, renderRoute, router } from './helpers'

enableAutoUnmount(afterEach)

beforeEach(() => endSession())

describe('sign-in form', () => {
  it('shows the server message for a wrong password and stays on the page', async () => {
    mockApi({ 'POST /api/signin': () => json(401, { detail: 'invalid email or password' }) })
    const wrapper = await renderRoute('/signin')

    await wrapper.get('input[type=email]').setValue('ada@example.com')
    await wrapper.get('input[type=password]').setValue('wrong password')
    await wrapper.get('form').trigger('submit')
    await flushPromises()

    expect(wrapper.get('[role=alert]').text()).toBe('invalid email or password')
    expect(router.currentRoute.value.path).toBe('/signin')
    expect(signedInEmail.value).toBeNull()
  })

  it('goes to the page that asked for sign-in', async () => {
    mockApi({
      'POST /api/signin': () =>
        json(200, { access_token: fakeToken('ada@example.com'), token_type: 'bearer', expires_in: 3600 }),
    })
    const wrapper = await renderRoute('/signin?redirect=/notifications')

    await wrapper.get('input[type=email]').setValue('ada@example.com')
    await wrapper.get('input[type=password]').setValue('correct horse')
    await wrapper.get('form').trigger('submit')

    await vi.waitFor(() => expect(router.currentRoute.value.fullPath).toBe('/notifications'))
    expect(signedInEmail.value).toBe('ada@example.com')
  })
})
