import { beforeEach, describe, expect, it } from 'vitest'
import { notificationApi } from '../src/api/client'
import { accessToken, endSession, isSignedIn, signedInEmail, startSession } from '../src/session'
import { fakeToken, json, mockApi, router } from './helpers'

beforeEach(() => endSession())

describe('session', () => {
  it('reads the email from the token and keeps the token across reloads', () => {
    const token = fakeToken('zoë@example.com')
    expect(startSession(token)).toBe(true)
    expect(signedInEmail.value).toBe('zoë@example.com')
    expect(localStorage.getItem('sol.token')).toBe(token)
  })

  it('treats an expired token as signed out', () => {
    startSession(fakeToken('ada@example.com', -1))
    expect(isSignedIn()).toBe(false)
    expect(accessToken()).toBeNull()
    expect(localStorage.getItem('sol.token')).toBeNull()
  })

  it('refuses a token it cannot read', () => {
    expect(startSession('not-a-jwt')).toBe(false)
    expect(isSignedIn()).toBe(false)
  })

  it('sends guarded pages to sign-in, keeping where the visitor was going', async () => {
    await router.push('/notifications')
    expect(router.currentRoute.value.fullPath).toBe('/signin?redirect=/notifications')
  })

  it('signs out and goes to sign-in when an API call answers 401', async () => {
    startSession(fakeToken('ada@example.com'))
    await router.push('/posts/p1')
    const fetch = mockApi({
      'GET /api/notification/unread-count': () => json(401, { detail: 'a valid bearer token is required' }),
    })

    await notificationApi.GET('/api/notification/unread-count')

    expect(fetch.mock.calls[0]![0].headers.get('Authorization')).toMatch(/^Bearer /)
    expect(isSignedIn()).toBe(false)
    expect(router.currentRoute.value.fullPath).toBe('/signin?redirect=/posts/p1')
  })
})
