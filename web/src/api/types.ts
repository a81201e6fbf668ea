// Short names for the API's models, all taken from the generated schema types.
import type { components as Notifications } from './generated/notification'
import type { components as Posts } from './generated/post'

export type Post = Posts['schemas']['Post']
export type PostSummary = Posts['schemas']['PostSummary']
export type Notification = Notifications['schemas']['Notification']
