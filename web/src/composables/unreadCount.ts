import { computed, ref } from 'vue'
import { notificationApi } from '../api/client'

/** The service counts unread among the newest 100 notifications: 100 means "99 or more". */
const UNREAD_CAP = 100

/**
 * Unread notifications of the signed-in user, shared by the top bar and the notification list.
 * notificationStream.ts keeps it current: +1 per pushed notification, a refresh on every (re)connect.
 */
export const unreadCount = ref(0)

export const unreadBadge = computed(() =>
  unreadCount.value >= UNREAD_CAP ? `${UNREAD_CAP - 1}+` : String(unreadCount.value),
)

/** One more unread notification, up to the cap the service counts to. */
export function countArrival(): void {
  unreadCount.value = Math.min(UNREAD_CAP, unreadCount.value + 1)
}

export async function refreshUnreadCount(): Promise<void> {
  try {
    const { data } = await notificationApi.GET('/api/notification/unread-count')
    if (data) unreadCount.value = data.count
  } catch {
    // Unreachable for now: keep the last count; the next (re)connect or poll tries again.
  }
}
