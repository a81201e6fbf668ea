import { computed, onMounted, onUnmounted, ref } from 'vue'
import { notificationApi } from '../api/client'

const POLL_INTERVAL_MS = 5_000

/** Unread notifications of the signed-in user, shared by the top bar and the notification list. */
export const unreadCount = ref(0)

/** The service counts unread among the newest 100 notifications: 100 means "99 or more". */
export const unreadBadge = computed(() => (unreadCount.value > 99 ? '99+' : String(unreadCount.value)))

export async function refreshUnreadCount(): Promise<void> {
  try {
    const { data } = await notificationApi.GET('/api/notification/unread-count')
    if (data) unreadCount.value = data.count
  } catch {
    // Unreachable for now: keep the last count; the next poll tries again.
  }
}

/**
 * Polls the unread count while the tab is visible, from the calling component's
 * mount until its unmount. Polling is stateless, so it works unchanged behind any
 * number of notification-service replicas and the gateway (see README).
 */
export function pollUnreadCount(): void {
  let timer: ReturnType<typeof setInterval> | undefined

  function restart() {
    clearInterval(timer)
    timer = undefined
    if (document.visibilityState !== 'visible') return
    void refreshUnreadCount()
    timer = setInterval(refreshUnreadCount, POLL_INTERVAL_MS)
  }

  onMounted(() => {
    restart()
    document.addEventListener('visibilitychange', restart)
  })
  onUnmounted(() => {
    clearInterval(timer)
    document.removeEventListener('visibilitychange', restart)
  })
}
