import { createRouter, createWebHistory, type RouteLocationRaw } from 'vue-router'
import { isSignedIn } from './session'

declare module 'vue-router' {
  interface RouteMeta {
    /** Reachable without signing in (the sign-in and sign-up pages). */
    public?: boolean
    /** Shown in the browser tab, and read out by screen readers after navigating. */
    title?: string
  }
}

export const router = createRouter({
  history: createWebHistory(),
  routes: [
    { path: '/', name: 'home', component: () => import('./views/HomeView.vue') },
    {
      path: '/signin',
      name: 'signin',
      component: () => import('./views/SignInView.vue'),
      meta: { public: true, title: 'Sign in' },
    },
    {
      path: '/signup',
      name: 'signup',
      component: () => import('./views/SignUpView.vue'),
      meta: { public: true, title: 'Sign up' },
    },
    {
      path: '/notifications',
      name: 'notifications',
      component: () => import('./views/NotificationsView.vue'),
      meta: { title: 'Notifications' },
    },
    {
      path: '/posts/:id',
      name: 'post',
      component: () => import('./views/PostView.vue'),
      props: true,
      meta: { title: 'Post' },
    },
    { path: '/:unknown(.*)*', redirect: '/' },
  ],
})

router.beforeEach((to) => {
  const signedIn = isSignedIn()
  if (!to.meta.public && !signedIn) return signInFirst(to.fullPath)
  if (to.meta.public && signedIn) return { name: 'home' }
})

router.afterEach((to, _from, failure) => {
  if (failure) return
  document.title = to.meta.title ? `${to.meta.title} · Stack Overflow Lite` : 'Stack Overflow Lite'
})

/** Where to send a visitor who must sign in before seeing `path`. */
export function signInFirst(path: string): RouteLocationRaw {
  return path === '/' ? { name: 'signin' } : { name: 'signin', query: { redirect: path } }
}

/** The `?redirect=` target after signing in, limited to paths inside this app. */
export function redirectTarget(redirect: unknown): string {
  return typeof redirect === 'string' && redirect.startsWith('/') && !redirect.startsWith('//')
    ? redirect
    : '/'
}
