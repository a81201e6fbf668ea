import { enableAutoUnmount, flushPromises } from '@vue/test-utils'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { endSession } from '../src/session'
import { fakeToken, json, mockApi, renderRoute, requestsMade, router } from './helpers'

enableAutoUnmount(afterEach)

beforeEach(() => endSession())

async function fillAndSubmit(
  wrapper: Awaited<ReturnType<typeof renderRoute>>,
  email: string,
  password: string,
) {
  await wrapper.get('input[type=email]').setValue(email)
  await wrapper.get('input[type=password]').setValue(password)
  await wrapper.get('form').trigger('submit')
  await flushPromises()
}

describe('sign-up form', () => {
  it('labels its inputs', async () => {
    mockApi({})
    const wrapper = await renderRoute('/signup')
    const email = wrapper.get('input[type=email]')
    expect(wrapper.get(`label[for="${email.attributes('id')}"]`).text()).toBe('Email')
  })

  it('shows field errors for a malformed email and a short password without calling the API', async () => {
    const fetch = mockApi({})
    const wrapper = await renderRoute('/signup')

    await fillAndSubmit(wrapper, 'not-an-email', 'short')

    expect(wrapper.text()).toContain('Enter an email address such as name@example.com.')
    expect(wrapper.text()).toContain('Use at least 8 characters.')
    expect(wrapper.get('input[type=email]').attributes('aria-invalid')).toBe('true')
    expect(fetch).not.toHaveBeenCalled()
  })

  it('counts the password limit in bytes, as bcrypt does', async () => {
    const fetch = mockApi({})
    const wrapper = await renderRoute('/signup')

    await fillAndSubmit(wrapper, 'ada@example.com', 'é'.repeat(40)) // 40 characters, 80 bytes

    expect(wrapper.text()).toContain('Use at most 72 bytes')
    expect(fetch).not.toHaveBeenCalled()
  })

  it('shows "email already registered" when the server answers 409', async () => {
    mockApi({ 'POST /api/signup': () => json(409, { detail: 'email already registered' }) })
    const wrapper = await renderRoute('/signup')

    await fillAndSubmit(wrapper, 'ada@example.com', 'correct horse')

    expect(wrapper.text()).toContain('email already registered')
    expect(router.currentRoute.value.path).toBe('/signup')
  })

  it('signs in with the new account and goes home', async () => {
    const fetch = mockApi({
      'POST /api/signup': () => json(201, { id: 'u1', email: 'ada@example.com' }),
      'POST /api/signin': () =>
        json(200, { access_token: fakeToken('ada@example.com'), token_type: 'bearer', expires_in: 3600 }),
      'GET /api/post': () => json(200, { items: [], next_cursor: null }),
    })
    const wrapper = await renderRoute('/signup')

    await fillAndSubmit(wrapper, 'ada@example.com', 'correct horse')

    await vi.waitFor(() => expect(router.currentRoute.value.path).toBe('/'))
    expect(requestsMade(fetch).slice(0, 2)).toEqual(['POST /api/signup', 'POST /api/signin'])
    expect(await fetch.mock.calls[0]![0].json()).toEqual({
      email: 'ada@example.com',
      password: 'correct horse',
    })
  })
})
