/**
 * The JWT secret of development mode, when JWT_SECRET is unset: several development intakes and the
 * benchmark share tokens with it. Public (it is in this repository), so production refuses it.
 */
export const DEVELOPMENT_JWT_SECRET = 'request-out-development-secret-not-for-production'

/**
 * The ticket fingerprint key of development mode, when TICKET_FINGERPRINT_KEY is unset: development
 * intakes share it, so a re-POST to another one compares. Public, so production refuses it.
 */
export const DEVELOPMENT_FINGERPRINT_KEY = 'request-out-development-fingerprint-key-not-for-production'
