export { checkWebhookUrl, isPublicAddress } from './address-policy.js'
export { webhookDeliverer } from './deliverer.js'
export { DeliveryState } from './delivery-state.js'
export { WebhookDispatcher } from './dispatcher.js'
export { EndpointStore, signingSecrets, view, type Endpoint } from './endpoint-store.js'
export { newSecret, signature } from './signing.js'
export {
  DELIVERY_JOB_NAME, deliveryBackoff, DeliveryFailure, deliveryJobOptions, retryAfterMs,
  retrySchedule, type DeliveryJob
} from './webhook-queue.js'
